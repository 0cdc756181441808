package demo

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/signature"
)

func withDigest(r apigw.Request, digest string) apigw.Request {
	r.Headers["content-digest"] = digest
	return r
}

func TestDemoBackend(t *testing.T) {
	h := Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mk := func(mode, body, hash string) apigw.Request {
		r := apigw.Request{Body: body, Headers: map[string]string{}}
		if hash != "" {
			r.Headers["x-content-sha256"] = hash
		}
		if mode != "" {
			r.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
				Lambda: map[string]any{"key_id": "ck_test_x", "auth_mode": mode, "merchant_id": "m_1"},
			}
		}
		return r
	}
	body := `{"amount":100}`
	cases := []struct {
		name string
		req  apigw.Request
		want int
	}{
		{"bearer", mk("bearer", body, ""), 200},
		{"hmac matching body", mk("hmac", body, signature.ContentSHA256([]byte(body))), 200},
		{"hmac empty body", mk("hmac", "", signature.ContentSHA256(nil)), 200},
		{"hmac tampered body", mk("hmac", `{"amount":999}`, signature.ContentSHA256([]byte(body))), 400},
		{"hmac no hash", mk("hmac", body, ""), 400},
		{"no authorizer context", mk("", body, ""), 401},
		{"signature matching digest", withDigest(mk("signature", body, ""), signature.ContentDigest([]byte(body))), 200},
		{"signature sha-512 digest", withDigest(mk("signature", `{"hello": "world"}`, ""),
			"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"), 200},
		{"signature empty body, no digest", mk("signature", "", ""), 200},
		{"signature tampered body", withDigest(mk("signature", `{"amount":999}`, ""), signature.ContentDigest([]byte(body))), 400},
		{"signature body, no digest", mk("signature", body, ""), 400},
		{"signature md5 digest", withDigest(mk("signature", body, ""), "md5=:AAAA:"), 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, err := h.Handle(context.Background(), c.req)
			if err != nil || resp.StatusCode != c.want {
				t.Fatalf("status %d err %v, want %d: %s", resp.StatusCode, err, c.want, resp.Body)
			}
			if c.want == 200 {
				var e echo
				if json.Unmarshal([]byte(resp.Body), &e) != nil || e.PrincipalID != "ck_test_x" || e.Context["merchant_id"] != "m_1" {
					t.Fatalf("echo wrong: %s", resp.Body)
				}
			}
		})
	}
}
