package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("local-dev-secret")
	testNow    = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
)

func signHS(t *testing.T, method jwt.SigningMethod, secret []byte, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(secret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "user_dev", "merchant_id": "m_demo", "role": "admin",
		"iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix(),
		"iss": localIssuer, "aud": localAudience,
	}
}

// testVerifier checks tokens as the gateway does, at testNow.
func testVerifier() *JWTVerifier {
	return &JWTVerifier{
		Secret: testSecret, Issuer: localIssuer, Audiences: []string{localAudience},
		Now: func() time.Time { return testNow },
	}
}

func with(c jwt.MapClaims, k string, v any) jwt.MapClaims {
	out := jwt.MapClaims{}
	for kk, vv := range c {
		out[kk] = vv
	}
	if v == nil {
		delete(out, k)
	} else {
		out[k] = v
	}
	return out
}

// rawToken assembles a token from a header and claims with the given signature part.
func rawToken(header, claims any, sig string) string {
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + sig
}

func TestJWTVerifier(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rs256, err := jwt.NewWithClaims(jwt.SigningMethodRS256, validClaims()).SignedString(rsaKey)
	if err != nil {
		t.Fatal(err)
	}
	noneTok, err := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	// An RS256 header over an HMAC signature made with the shared secret:
	// the algorithm-confusion attack.
	confused := func() string {
		tok := jwt.NewWithClaims(jwt.SigningMethodHS256, validClaims())
		tok.Header["alg"] = "RS256"
		unsigned, _ := tok.SigningString()
		sig, _ := jwt.SigningMethodHS256.Sign(unsigned, testSecret)
		return unsigned + "." + base64.RawURLEncoding.EncodeToString(sig)
	}()
	good := signHS(t, jwt.SigningMethodHS256, testSecret, validClaims())

	tests := []struct {
		name       string
		header     string
		scopes     []string
		wantStatus int // 0 = accepted
		wantDesc   string
	}{
		{name: "bearer", header: "Bearer " + good},
		{name: "lower-case bearer", header: "bearer " + good},
		{name: "without the prefix, as API Gateway allows", header: good},
		{name: "missing", header: "", wantStatus: 401},
		{name: "bearer without token", header: "Bearer ", wantStatus: 401},
		{name: "garbage", header: "Bearer not.a.jwt", wantStatus: 401, wantDesc: "malformed"},
		{name: "expired", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", testNow.Add(-time.Second).Unix())), wantStatus: 401, wantDesc: "expired"},
		{name: "no exp", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "exp", nil)), wantStatus: 401, wantDesc: "no exp"},
		{name: "not valid yet", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "nbf", testNow.Add(time.Minute).Unix())), wantStatus: 401, wantDesc: "not valid yet"},
		{name: "wrong secret", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, []byte("other-secret"), validClaims()), wantStatus: 401, wantDesc: "signature"},
		{name: "tampered claims", header: "Bearer " + func() string {
			parts := strings.Split(good, ".")
			return rawToken(map[string]string{"alg": "HS256", "typ": "JWT"}, with(validClaims(), "role", "root"), parts[2])
		}(), wantStatus: 401, wantDesc: "signature"},
		{name: "HS512 is not HS256", header: "Bearer " + signHS(t, jwt.SigningMethodHS512, testSecret, validClaims()), wantStatus: 401},
		{name: "alg none", header: "Bearer " + noneTok, wantStatus: 401},
		{name: "alg none, empty signature, crafted", header: "Bearer " + rawToken(map[string]string{"alg": "none"}, validClaims(), ""), wantStatus: 401},
		{name: "RS256", header: "Bearer " + rs256, wantStatus: 401},
		{name: "RS256 header with HMAC signature", header: "Bearer " + confused, wantStatus: 401},
		{name: "no iss", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "iss", nil)), wantStatus: 401, wantDesc: "valid issuer"},
		{name: "another issuer", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "iss", "https://evil.example")), wantStatus: 401, wantDesc: "valid issuer"},
		{name: "issuer differs in case", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "iss", "Paykeys-Local")), wantStatus: 401, wantDesc: "valid issuer"},
		{name: "issuer not a string", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "iss", []string{localIssuer})), wantStatus: 401, wantDesc: "valid issuer"},
		{name: "no aud", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "aud", nil)), wantStatus: 401, wantDesc: "valid audience"},
		{name: "another audience", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "aud", "payments")), wantStatus: 401, wantDesc: "valid audience"},
		{name: "empty audience", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "aud", "")), wantStatus: 401, wantDesc: "valid audience"},
		{name: "audience list without ours", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "aud", []string{"a", "b"})), wantStatus: 401, wantDesc: "valid audience"},
		{name: "audience list with ours", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "aud", []string{"other", localAudience}))},
		{name: "no aud, client_id is ours", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(with(validClaims(), "aud", nil), "client_id", localAudience))},
		{name: "no aud, another client_id", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(with(validClaims(), "aud", nil), "client_id", "other")), wantStatus: 401, wantDesc: "valid audience"},
		{name: "aud wins over client_id", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(with(validClaims(), "aud", "other"), "client_id", localAudience)), wantStatus: 401, wantDesc: "valid audience"},
		{name: "scope granted", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "scope", "keys/read keys/write")), scopes: []string{"keys/write"}},
		{name: "scope missing", header: "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), "scope", "keys/read")), scopes: []string{"keys/write", "admin"}, wantStatus: 403},
		{name: "no scope claim but scopes required", header: "Bearer " + good, scopes: []string{"keys/read"}, wantStatus: 403},
	}
	v := testVerifier()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			desc, fail := v.Authenticate(tt.header, tt.scopes)
			if tt.wantStatus == 0 {
				if fail != nil {
					t.Fatalf("refused: %+v", fail)
				}
				if desc.Claims["sub"] != "user_dev" || desc.Claims["merchant_id"] != "m_demo" || desc.Claims["role"] != "admin" {
					t.Errorf("claims = %v", desc.Claims)
				}
				return
			}
			if fail == nil {
				t.Fatalf("accepted, want %d", tt.wantStatus)
			}
			if fail.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d (%s)", fail.Status, tt.wantStatus, fail.Reason)
			}
			if !strings.HasPrefix(fail.Challenge, "Bearer") {
				t.Errorf("challenge = %q, want a Bearer challenge", fail.Challenge)
			}
			if tt.wantStatus == 401 && tt.header != "" && strings.TrimSpace(tt.header) != "Bearer" &&
				!strings.Contains(fail.Challenge, `error="invalid_token"`) {
				t.Errorf("challenge = %q, want error=\"invalid_token\"", fail.Challenge)
			}
			if tt.wantDesc != "" && !strings.Contains(fail.Challenge, tt.wantDesc) {
				t.Errorf("challenge = %q, want it to mention %q", fail.Challenge, tt.wantDesc)
			}
		})
	}
}

func TestJWTClaimsAsStrings(t *testing.T) {
	claims := with(validClaims(), "groups", []string{"admin", "ops"})
	claims["auth_time"] = 1795420800
	claims["ratio"] = 1.5
	claims["big"] = 12345678901234
	claims["email_verified"] = true
	claims["address"] = map[string]any{"country": "DE"}
	claims["nothing"] = nil
	claims["scope"] = "keys/read  keys/write"
	tok := signHS(t, jwt.SigningMethodHS256, testSecret, claims)

	desc, fail := testVerifier().Authenticate("Bearer "+tok, nil)
	if fail != nil {
		t.Fatal(fail.Reason)
	}
	want := map[string]string{
		"sub": "user_dev", "merchant_id": "m_demo", "role": "admin",
		"iat":            "1795428000",
		"exp":            "1795431600",
		"groups":         "[admin ops]",
		"auth_time":      "1795420800",
		"ratio":          "1.5",
		"big":            "12345678901234",
		"email_verified": "true",
		"address":        `{"country":"DE"}`,
		"scope":          "keys/read  keys/write",
		"iss":            "paykeys-local",
		"aud":            "paykeys",
	}
	if !reflect.DeepEqual(desc.Claims, want) {
		t.Errorf("claims = %v\nwant     %v", desc.Claims, want)
	}
	if !reflect.DeepEqual(desc.Scopes, []string{"keys/read", "keys/write"}) {
		t.Errorf("scopes = %q", desc.Scopes)
	}
}

func TestTokenScopes(t *testing.T) {
	tests := []struct {
		claims jwt.MapClaims
		want   []string
	}{
		{jwt.MapClaims{}, nil},
		{jwt.MapClaims{"scope": ""}, nil},
		{jwt.MapClaims{"scope": "a b"}, []string{"a", "b"}},
		{jwt.MapClaims{"scp": []any{"a", "b"}}, []string{"a", "b"}},
		{jwt.MapClaims{"scp": "a"}, []string{"a"}},
		{jwt.MapClaims{"scope": "x", "scp": []any{"y"}}, []string{"x"}},
	}
	for _, tt := range tests {
		if got := tokenScopes(tt.claims); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenScopes(%v) = %q, want %q", tt.claims, got, tt.want)
		}
	}
}

func TestMintToken(t *testing.T) {
	tok, err := MintToken(testSecret, TokenOptions{
		Subject: "user_1", Merchant: "m_1", Role: "viewer", Issuer: localIssuer, Audience: localAudience,
		TTL: 10 * time.Minute, Now: testNow,
	})
	if err != nil {
		t.Fatal(err)
	}
	v := testVerifier()
	v.Now = func() time.Time { return testNow.Add(9 * time.Minute) }
	desc, fail := v.Authenticate("Bearer "+tok, nil)
	if fail != nil {
		t.Fatal(fail.Reason)
	}
	want := map[string]string{
		"sub": "user_1", "merchant_id": "m_1", "role": "viewer",
		"iss": "paykeys-local", "aud": "paykeys",
		"iat": "1795428000", "exp": "1795428600",
	}
	if !reflect.DeepEqual(desc.Claims, want) {
		t.Errorf("claims = %v, want %v", desc.Claims, want)
	}
	v.Now = func() time.Time { return testNow.Add(11 * time.Minute) }
	if _, fail := v.Authenticate("Bearer "+tok, nil); fail == nil || fail.Status != http.StatusUnauthorized {
		t.Error("token should have expired")
	}

	if _, err := MintToken(testSecret, TokenOptions{TTL: 0}); err == nil {
		t.Error("zero ttl should fail")
	}
	if _, err := MintToken(nil, TokenOptions{TTL: time.Hour}); err == nil {
		t.Error("empty secret should fail")
	}
}
