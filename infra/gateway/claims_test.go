package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/paykeys/paykeys/internal/api"
)

// Claims that are not strings of the documented shape reach the functions as
// API Gateway passes them (an array as "[a b]", an object as JSON), and the
// functions refuse the token: 401.
func TestGatewayClaimShapes(t *testing.T) {
	h := (&api.API{Log: slog.New(slog.DiscardHandler), Now: time.Now}).Function("keys")
	tg := newTestGateway(t, nil, &Backend{Handlers: map[string]Handler{"keys": Handler(h)}})
	base := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": "u1", "merchant_id": "m_a", "role": "viewer",
			"iss": localIssuer, "aud": localAudience, "iat": testNow.Unix(), "exp": testNow.Add(time.Hour).Unix()}
	}
	cases := []struct {
		name  string
		claim string
		value any
		want  int
	}{
		{"array merchant_id", "merchant_id", []any{"m_a", "m_b"}, 401},
		{"one-element array merchant_id", "merchant_id", []any{"m_a"}, 401},
		{"object merchant_id", "merchant_id", map[string]any{"id": "m_a"}, 401},
		{"merchant_id of another shape", "merchant_id", "m a/b", 401},
		{"array sub", "sub", []any{"u1", "u2"}, 401},
		{"empty sub", "sub", "", 401},
		{"array role", "role", []any{"admin"}, 401},
		{"object role", "role", map[string]any{"r": "admin"}, 401},
		{"unknown role", "role", "owner", 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			claims := base()
			claims[c.claim] = c.value
			tok := signHS(t, jwt.SigningMethodHS256, testSecret, claims)
			res, body := tg.do(t, reqSpec{method: "GET", path: "/v1/keys/ck_test_0000000000000000000000",
				headers: map[string]string{"Authorization": "Bearer " + tok}})
			if res.StatusCode != c.want {
				t.Fatalf("status = %d %s, want %d", res.StatusCode, body, c.want)
			}
		})
	}
}
