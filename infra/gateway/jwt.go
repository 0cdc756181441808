package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/golang-jwt/jwt/v5"
)

const (
	// defaultDevJWTSecret signs local JWTs when DEV_JWT_SECRET is unset.
	defaultDevJWTSecret = "local-dev-secret"
	// localIssuer and localAudience stand in for the template's JwtIssuer and
	// JwtAudience: the gateway requires them in iss and aud, and the token
	// subcommand writes them there.
	localIssuer   = "paykeys-local"
	localAudience = "paykeys"
)

// JWTVerifier stands in for an HTTP API JWT authorizer. Locally tokens are
// HS256, signed with DEV_JWT_SECRET, instead of RS256 from an OIDC issuer's
// JWKS. Like API Gateway it accepts the token with or without a "Bearer "
// prefix, requires exp and rejects an expired token or one whose nbf is in
// the future, requires iss to be the issuer and aud (or, when aud is
// absent, client_id) to name one of the audiences, and checks the route's
// authorization scopes.
type JWTVerifier struct {
	Secret []byte
	// Issuer is the iss every token must carry; Audiences are the accepted
	// aud values. Empty means no token is accepted.
	Issuer    string
	Audiences []string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// authFailure is API Gateway's answer to a request its authorizer refused.
type authFailure struct {
	Status    int    // 401 or 403
	Challenge string // www-authenticate value, if any
	Reason    string // for the gateway's log, never sent
}

func (f *authFailure) write(w http.ResponseWriter) {
	if f.Challenge != "" {
		w.Header().Set("www-authenticate", f.Challenge)
	}
	if f.Status == http.StatusForbidden {
		writeMessage(w, http.StatusForbidden, "Forbidden")
		return
	}
	writeMessage(w, http.StatusUnauthorized, "Unauthorized")
}

func invalidToken(description string) *authFailure {
	return &authFailure{
		Status:    http.StatusUnauthorized,
		Challenge: fmt.Sprintf(`Bearer scope="" error="invalid_token" error_description=%q`, description),
		Reason:    description,
	}
}

// Authenticate validates the identity source's value (the Authorization
// header, normally) and returns what API Gateway puts under
// requestContext.authorizer.jwt.
func (v *JWTVerifier) Authenticate(headerValue string, requiredScopes []string) (*events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription, *authFailure) {
	token := strings.TrimSpace(headerValue)
	if len(token) >= 7 && strings.EqualFold(token[:7], "bearer ") {
		token = strings.TrimSpace(token[7:])
	}
	if token == "" {
		return nil, &authFailure{Status: http.StatusUnauthorized, Challenge: "Bearer", Reason: "no token"}
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	parser := jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithTimeFunc(now),
		jwt.WithJSONNumber(),
	)
	claims := jwt.MapClaims{}
	_, err := parser.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return v.Secret, nil })
	if err != nil {
		return nil, invalidToken(describeJWTError(err))
	}
	if iss, ok := claims["iss"].(string); !ok || v.Issuer == "" || iss != v.Issuer {
		return nil, invalidToken("the token does not have a valid issuer")
	}
	if !v.audienceOK(claims) {
		return nil, invalidToken("the token does not have a valid audience")
	}

	desc := &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
		Claims: make(map[string]string, len(claims)),
		Scopes: tokenScopes(claims),
	}
	for k, c := range claims {
		if s, ok := claimString(c); ok {
			desc.Claims[k] = s
		}
	}
	if len(requiredScopes) > 0 && !slices.ContainsFunc(requiredScopes, func(s string) bool { return slices.Contains(desc.Scopes, s) }) {
		return nil, &authFailure{
			Status: http.StatusForbidden,
			Challenge: fmt.Sprintf(`Bearer scope=%q error="insufficient_scope" error_description="the token does not have the required scopes"`,
				strings.Join(requiredScopes, " ")),
			Reason: "insufficient scope",
		}
	}
	return desc, nil
}

// audienceOK reports whether the token is for one of v.Audiences, as API
// Gateway decides it: aud (a string or a list of strings) must name one of
// them; a token without aud is judged by its client_id claim instead.
func (v *JWTVerifier) audienceOK(claims jwt.MapClaims) bool {
	var got []string
	switch aud := claims["aud"].(type) {
	case nil:
		if id, ok := claims["client_id"].(string); ok {
			got = []string{id}
		}
	case string:
		got = []string{aud}
	case []any:
		for _, a := range aud {
			if s, ok := a.(string); ok {
				got = append(got, s)
			}
		}
	}
	for _, a := range got {
		if a != "" && slices.Contains(v.Audiences, a) {
			return true
		}
	}
	return false
}

func describeJWTError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "the token is malformed"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return "the token does not have a valid signature"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "the token's signing algorithm is not supported"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "the token has no exp claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "the token has expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "the token is not valid yet"
	}
	return "the token is not valid"
}

// claimString renders a claim as API Gateway does in
// requestContext.authorizer.jwt.claims, where every value is a string:
// strings as they are, numbers in their decimal JSON form (1735689600, not
// 1.7356896e+09), booleans as true/false, arrays as their elements rendered
// the same way, space-separated in brackets ("[admin ops]"), and objects as
// compact JSON. Null claims are left out.
func claimString(v any) (string, bool) {
	switch c := v.(type) {
	case nil:
		return "", false
	case string:
		return c, true
	case json.Number:
		return c.String(), true
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(c), true
	case []any:
		parts := make([]string, 0, len(c))
		for _, e := range c {
			if s, ok := claimString(e); ok {
				parts = append(parts, s)
			}
		}
		return "[" + strings.Join(parts, " ") + "]", true
	default:
		b, err := json.Marshal(c)
		if err != nil {
			return fmt.Sprint(c), true
		}
		return string(b), true
	}
}

// tokenScopes reads the scopes API Gateway reports: the space-separated
// "scope" claim, else the "scp" claim (a list or a space-separated string).
func tokenScopes(claims jwt.MapClaims) []string {
	for _, name := range []string{"scope", "scp"} {
		switch c := claims[name].(type) {
		case string:
			if f := strings.Fields(c); len(f) > 0 {
				return f
			}
		case []any:
			var out []string
			for _, e := range c {
				if s, ok := e.(string); ok && s != "" {
					out = append(out, s)
				}
			}
			if len(out) > 0 {
				return out
			}
		}
	}
	return nil
}

// TokenOptions are the claims of a local management API token.
type TokenOptions struct {
	Subject  string // sub; omitted when empty
	Merchant string // merchant_id; omitted when empty
	Role     string // role; omitted when empty
	Scope    string // scope; omitted when empty
	Issuer   string
	Audience string
	TTL      time.Duration
	Now      time.Time
}

// MintToken signs a local JWT (HS256) with the claims sub, merchant_id,
// role, iat, exp, iss and aud. Empty sub, merchant_id and role are left out,
// so tokens that lack them can be made on purpose.
func MintToken(secret []byte, o TokenOptions) (string, error) {
	if len(secret) == 0 {
		return "", errors.New("empty signing secret")
	}
	if o.TTL <= 0 {
		return "", fmt.Errorf("ttl must be positive, got %s", o.TTL)
	}
	now := o.Now
	if now.IsZero() {
		now = time.Now()
	}
	claims := jwt.MapClaims{
		"iat": now.Unix(),
		"exp": now.Add(o.TTL).Unix(),
	}
	for k, v := range map[string]string{
		"sub": o.Subject, "merchant_id": o.Merchant, "role": o.Role,
		"scope": o.Scope, "iss": o.Issuer, "aud": o.Audience,
	} {
		if v != "" {
			claims[k] = v
		}
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
}
