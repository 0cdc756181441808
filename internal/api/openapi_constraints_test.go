package api_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/paykeys/paykeys/internal/api"
)

// requestSchema returns the OpenAPI document's schema of a request body.
func requestSchema(t *testing.T, name string) *openapi3.Schema {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	ref := doc.Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("the document has no schema %s", name)
	}
	return ref.Value
}

// The document's schema of POST /v1/keys/{id}/public-keys says what the
// validation accepts: every body, at and just past each limit, is valid by
// both or by neither. The one thing a schema cannot say, whether a point is
// on its curve, is the only allowed difference.
func TestPublicKeyRequestSchemaMatchesValidation(t *testing.T) {
	schema := requestSchema(t, "CreatePublicKeyRequest")
	edPub, _, _ := ed25519.GenerateKey(rand.Reader)
	edDER, _ := x509.MarshalPKIXPublicKey(edPub)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ecPriv.PublicKey)
	edPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: edDER}))
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecDER}))
	enc := base64.RawURLEncoding.EncodeToString
	raw, _ := ecPriv.PublicKey.Bytes()
	edX, ecX, ecY := enc(edPub), enc(raw[1:33]), enc(raw[33:])
	// The same 32 bytes with the last character's spare bits not zero.
	strayBits := edX[:42] + next(base64URL, edX[42])
	// Not a point of edwards25519: y = 2 has no x (2 is not (u/v) square here).
	notOnCurve := enc(append([]byte{2}, make([]byte, 31)...))
	jwkEd := func(extra string) string { return `{"kty":"OKP","crv":"Ed25519","x":"` + edX + `"` + extra + `}` }
	jwkEC := func(x, y string) string { return `{"kty":"EC","crv":"P-256","x":"` + x + `","y":"` + y + `"}` }
	q := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	// A PEM whose last base64 character has a spare bit set: the PEM reader
	// ignores it.
	edPEMStray := strings.Replace(edPEM, edPEM[27:27+59], edPEM[27:27+58]+next(base64Std, edPEM[27+58]), 1)

	cases := []struct {
		name       string
		body       string
		schema, ok bool // valid by the document, accepted by the API
	}{
		{"ed25519 PEM", `{"alg":"ed25519","public_key":` + q(edPEM) + `}`, true, true},
		{"ed25519 PEM, CRLF", `{"alg":"ed25519","public_key":` + q(strings.ReplaceAll(edPEM, "\n", "\r\n")) + `}`, true, true},
		{"ed25519 PEM, no final newline", `{"alg":"ed25519","public_key":` + q(strings.TrimSuffix(edPEM, "\n")) + `}`, true, true},
		{"ed25519 PEM, stray padding bits", `{"alg":"ed25519","public_key":` + q(edPEMStray) + `}`, true, true},
		{"ed25519 PEM, jwk null", `{"alg":"ed25519","public_key":` + q(edPEM) + `,"jwk":null}`, true, true},
		{"ed25519 PEM under the P-256 alg", `{"alg":"ecdsa-p256-sha256","public_key":` + q(edPEM) + `}`, false, false},
		{"P-256 PEM", `{"alg":"ecdsa-p256-sha256","public_key":` + q(ecPEM) + `}`, true, true},
		{"P-256 PEM under the ed25519 alg", `{"alg":"ed25519","public_key":` + q(ecPEM) + `}`, false, false},
		{"PEM of another type", `{"alg":"ed25519","public_key":` + q(strings.ReplaceAll(edPEM, "PUBLIC KEY", "PRIVATE KEY")) + `}`, false, false},
		{"PEM past 4096 characters", `{"alg":"ed25519","public_key":` + q(edPEM+strings.Repeat(" ", 4097-len(edPEM))) + `}`, false, false},
		{"ed25519 JWK", `{"alg":"ed25519","jwk":` + jwkEd("") + `}`, true, true},
		{"ed25519 JWK, public_key null", `{"alg":"ed25519","public_key":null,"jwk":` + jwkEd("") + `}`, true, true},
		{"ed25519 JWK with ignored members", `{"alg":"ed25519","jwk":` + jwkEd(`,"kid":"a","use":"sig","alg":"EdDSA","key_ops":["verify"]`) + `}`, true, true},
		{"ed25519 JWK with null members", `{"alg":"ed25519","jwk":` + jwkEd(`,"y":null,"kid":null,"key_ops":null`) + `}`, true, true},
		{"ed25519 JWK, null among key_ops", `{"alg":"ed25519","jwk":` + jwkEd(`,"key_ops":["verify",null]`) + `}`, true, true},
		{"ed25519 JWK, key_ops not strings", `{"alg":"ed25519","jwk":` + jwkEd(`,"key_ops":[{}]`) + `}`, false, false},
		{"ed25519 JWK, empty y", `{"alg":"ed25519","jwk":` + jwkEd(`,"y":""`) + `}`, true, true},
		{"ed25519 JWK with a y", `{"alg":"ed25519","jwk":` + jwkEd(`,"y":"`+ecY+`"`) + `}`, false, false},
		{"ed25519 JWK with a private member", `{"alg":"ed25519","jwk":` + jwkEd(`,"d":"`+edX+`"`) + `}`, false, false},
		{"ed25519 JWK, x of 42", `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"` + edX[:42] + `"}}`, false, false},
		{"ed25519 JWK, x of 44", `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"` + edX + `A"}}`, false, false},
		{"ed25519 JWK, x with stray bits", `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"` + strayBits + `"}}`, false, false},
		{"ed25519 JWK, x padded", `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"` + edX + `="}}`, false, false},
		{"ed25519 JWK as EC", `{"alg":"ed25519","jwk":{"kty":"EC","crv":"Ed25519","x":"` + edX + `"}}`, false, false},
		{"ed25519 JWK, crv P-256", `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"P-256","x":"` + edX + `"}}`, false, false},
		{"ed25519 JWK, not on the curve", `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"` + notOnCurve + `"}}`, true, false},
		{"P-256 JWK", `{"alg":"ecdsa-p256-sha256","jwk":` + jwkEC(ecX, ecY) + `}`, true, true},
		{"P-256 JWK without y", `{"alg":"ecdsa-p256-sha256","jwk":{"kty":"EC","crv":"P-256","x":"` + ecX + `"}}`, false, false},
		{"P-256 JWK under the ed25519 alg", `{"alg":"ed25519","jwk":` + jwkEC(ecX, ecY) + `}`, false, false},
		{"P-256 JWK, not on the curve", `{"alg":"ecdsa-p256-sha256","jwk":` + jwkEC(ecX, ecX) + `}`, true, false},
		{"both", `{"alg":"ed25519","public_key":` + q(edPEM) + `,"jwk":` + jwkEd("") + `}`, false, false},
		{"neither", `{"alg":"ed25519"}`, false, false},
		{"no alg", `{"jwk":` + jwkEd("") + `}`, false, false},
		{"alg null", `{"alg":null,"jwk":` + jwkEd("") + `}`, false, false},
		{"another alg", `{"alg":"rsa-pss-sha512","jwk":` + jwkEd("") + `}`, false, false},
		{"another member", `{"alg":"ed25519","jwk":` + jwkEd("") + `,"name":"x"}`, false, false},
	}
	f := newFake(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var v any
			if err := json.Unmarshal([]byte(c.body), &v); err != nil {
				t.Fatalf("body %s: %v", c.body, err)
			}
			err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020())
			if (err == nil) != c.schema {
				t.Errorf("the document says valid = %v, want %v (%v)", err == nil, c.schema, err)
			}
			k := f.createKey("", "")
			got := f.send(rq{route: "POST /v1/keys/{id}/public-keys", id: k.id, body: c.body}).status
			if want := map[bool]int{true: 201, false: 400}[c.ok]; got != want {
				t.Errorf("the API answers %d, want %d", got, want)
			}
		})
	}
}

const (
	base64Std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	base64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
)

// next returns the character after c in alphabet: the same value but for
// its lowest bit.
func next(alphabet string, c byte) string {
	return string(alphabet[strings.IndexByte(alphabet, c)^1])
}

// The keys the document gives as examples of each form (which Schemathesis
// sends as its valid cases) are keys the API registers.
func TestPublicKeyRequestSchemaExamplesAreValidKeys(t *testing.T) {
	schema := requestSchema(t, "CreatePublicKeyRequest")
	if len(schema.OneOf) != 4 {
		t.Fatalf("%d forms, want 4 (PEM and JWK of each algorithm)", len(schema.OneOf))
	}
	f := newFake(t)
	for _, form := range schema.OneOf {
		props := form.Value.Properties
		t.Run(form.Value.Title, func(t *testing.T) {
			body := map[string]any{"alg": props["alg"].Value.Const}
			if pk := props["public_key"].Value; len(pk.Examples) > 0 {
				body["public_key"] = pk.Examples[0]
			} else {
				jwk := map[string]any{}
				for name, p := range props["jwk"].Value.Properties {
					switch {
					case p.Value.Const != nil:
						jwk[name] = p.Value.Const
					case len(p.Value.Examples) > 0:
						jwk[name] = p.Value.Examples[0]
					}
				}
				if jwk["x"] == nil {
					t.Fatal("no example of jwk.x")
				}
				body["jwk"] = jwk
			}
			b, _ := json.Marshal(body)
			if err := schema.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
				t.Fatalf("the example %s is not valid by the document: %v", b, err)
			}
			k := f.createKey("", "")
			f.send(rq{route: "POST /v1/keys/{id}/public-keys", id: k.id, body: string(b)}).must(t, 201)
		})
	}
}

// The document's ip of POST /v1/verify is what the validation reads: an IPv4
// or IPv6 address without a zone.
func TestServiceVerifyIPSchemaMatchesValidation(t *testing.T) {
	openapi3.DefineIPv4Format()
	openapi3.DefineIPv6Format()
	schema := requestSchema(t, "ServiceVerifyRequest")
	f := newFake(t)
	for _, tt := range []struct {
		ip any
		ok bool
	}{
		{"203.0.113.7", true}, {"0.0.0.0", true}, {"255.255.255.255", true},
		{"2001:db8::1", true}, {"::1", true}, {"::ffff:203.0.113.7", true}, {nil, true},
		{"256.0.0.1", false}, {"203.0.113", false}, {"203.0.113.07", false}, {"203.0.113.7/32", false},
		{"fe80::1%eth0", false}, {"2001:db8::1::", false}, {"localhost", false}, {"", false}, {7, false},
	} {
		body, _ := json.Marshal(map[string]any{"secret": "x", "ip": tt.ip})
		t.Run(string(body), func(t *testing.T) {
			var v any
			_ = json.Unmarshal(body, &v)
			if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); (err == nil) != tt.ok {
				t.Errorf("the document says valid = %v, want %v (%v)", err == nil, tt.ok, err)
			}
			got := f.send(rq{route: "POST /v1/verify", body: string(body), merchant: "-"}).status
			if (got == 200) != tt.ok || got != 200 && got != 400 {
				t.Errorf("the API answers %d, want %v", got, map[bool]int{true: 200, false: 400}[tt.ok])
			}
		})
	}
}
