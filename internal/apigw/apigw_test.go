package apigw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/key"
)

func TestErrorTable(t *testing.T) {
	secret := key.DefaultBrand.NewSecret(key.NewClientID(key.EnvTest))
	var logs strings.Builder
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	cases := []struct {
		err     error
		status  int
		code    string
		message string
	}{
		{key.Invalid("name must be 1..100 characters"), 400, "invalid_request", "name must be 1..100 characters"},
		{fmt.Errorf("wrapped: %w", key.Invalid("bad")), 400, "invalid_request", "bad"},
		{ErrUnauthenticated, 401, "unauthenticated", "a valid token with sub and merchant_id is required"},
		{ErrForbidden, 403, "forbidden", "your role may not do this"},
		{fmt.Errorf("get: %w", key.NotFound("key", "ck_test_5Vq0000000000000000000")), 404, "not_found", "key ck_test_5Vq0000000000000000000 not found"},
		{key.NotFound("key", "ck_test_x"), 404, "not_found", "key not found"},
		{key.NotFound("key", secret), 404, "not_found", "key not found"},
		{key.NotFound("delivery", "msg_"+strings.Repeat("a", 27)), 404, "not_found", "delivery msg_" + strings.Repeat("a", 27) + " not found"},
		{key.NotFound("webhook endpoint", "we_"+secret), 404, "not_found", "webhook endpoint not found"},
		{key.Invalid("bad value %s", secret), 400, "invalid_request", "the request is not valid"},
		{key.Conflict("whsec_abc+/= is in use"), 409, "conflict", "the request conflicts with the current state"},
		{key.Conflict("key ck_test_x is revoked"), 409, "conflict", "key ck_test_x is revoked"},
		{ErrTooLarge, 413, "payload_too_large", "request bodies are limited to 65536 bytes"},
		{&key.RateLimitedError{RetryAfter: 1500 * time.Millisecond}, 429, "rate_limited", "too many attempts; retry later"},
		{errors.New("dynamodb: connection refused to 10.0.0.5"), 500, "internal", "internal error"},
		{fmt.Errorf("call: %w", context.DeadlineExceeded), 503, "unavailable", "a dependency did not answer in time; retry later"},
	}
	for _, c := range cases {
		t.Run(c.code, func(t *testing.T) {
			resp := Error(context.Background(), log, "req-1", c.err)
			var b ErrorBody
			if err := json.Unmarshal([]byte(resp.Body), &b); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != c.status || b.Error.Code != c.code || b.Error.Message != c.message || b.Error.RequestID != "req-1" {
				t.Fatalf("got %d %+v", resp.StatusCode, b)
			}
			if c.status == 429 && resp.Headers["Retry-After"] != "2" {
				t.Fatalf("Retry-After = %q, want 2 (rounded up)", resp.Headers["Retry-After"])
			}
		})
	}
	if strings.Contains(Error(context.Background(), log, "r", errors.New("secret detail 10.0.0.5")).Body, "10.0.0.5") {
		t.Fatal("an internal error's text reached the response")
	}
	if !strings.Contains(logs.String(), "10.0.0.5") {
		t.Fatal("an internal error was not logged")
	}
}

func TestDecode(t *testing.T) {
	type body struct {
		Name  *string  `json:"name"`
		Count *int     `json:"count"`
		List  []string `json:"list"`
	}
	cases := []struct {
		name     string
		body     string
		b64      bool
		optional bool
		wantErr  error
		wantMsg  string
	}{
		{name: "ok", body: `{"name":"x","count":2,"list":["a"]}`},
		{name: "base64", body: base64.StdEncoding.EncodeToString([]byte(`{"name":"x"}`)), b64: true},
		{name: "bad base64", body: "***", b64: true, wantErr: key.ErrInvalid},
		{name: "empty optional", body: "", optional: true},
		{name: "empty required", body: " ", wantErr: key.ErrInvalid, wantMsg: "a JSON body is required"},
		{name: "syntax", body: `{"name":`, wantErr: key.ErrInvalid, wantMsg: "body is not valid JSON"},
		{name: "unknown", body: `{"nam":"x"}`, wantErr: key.ErrInvalid, wantMsg: `unknown field "nam"`},
		{name: "name differs in case", body: `{"Name":"x"}`, wantErr: key.ErrInvalid,
			wantMsg: `unknown field; field names are case-sensitive: did you mean "name"?`},
		{name: "case twin beside the real name", body: `{"name":"x","NAME":"y"}`, wantErr: key.ErrInvalid,
			wantMsg: `unknown field; field names are case-sensitive: did you mean "name"?`},
		{name: "duplicate", body: `{"name":"x","name":"y"}`, wantErr: key.ErrInvalid, wantMsg: `field "name" is given more than once`},
		{name: "duplicate nested", body: `{"list":["a"],"count":1,"count":1}`, wantErr: key.ErrInvalid, wantMsg: `field "count" is given more than once`},
		{name: "raw invalid UTF-8", body: "{\"name\":\"a\xff\"}", wantErr: key.ErrInvalid, wantMsg: "body is not valid UTF-8"},
		{name: "invalid UTF-8 in a name", body: "{\"na\xc3me\":\"a\"}", wantErr: key.ErrInvalid, wantMsg: "body is not valid UTF-8"},
		{name: "escaped lone surrogate", body: `{"name":"\ud800"}`, wantErr: key.ErrInvalid, wantMsg: "body is not valid UTF-8"},
		{name: "escaped pair is fine", body: `{"name":"\ud83d\ude00"}`},
		{name: "escaped lone low surrogate", body: `{"name":"\udc00"}`, wantErr: key.ErrInvalid, wantMsg: "body is not valid UTF-8"},
		{name: "high surrogate then a letter", body: `{"name":"\ud800\u0041"}`, wantErr: key.ErrInvalid, wantMsg: "body is not valid UTF-8"},
		{name: "escaped backslash before u is text", body: `{"name":"\\ud800"}`},
		{name: "lone surrogate in a name", body: `{"\ud800":1}`, wantErr: key.ErrInvalid, wantMsg: "body is not valid UTF-8"},
		{name: "first error in the body wins", body: `{"name":"x","name":"y","nam":1}`, wantErr: key.ErrInvalid, wantMsg: `field "name" is given more than once`},
		{name: "duplicate secret-shaped name is not echoed", body: `{"list":[],"sk_test_abcdefghijklmnop":1,"sk_test_abcdefghijklmnop":1}`,
			wantErr: key.ErrInvalid, wantMsg: "the body has an unknown field"},
		{name: "number out of range", body: `{"count":1e400}`, wantErr: key.ErrInvalid, wantMsg: `field "count" must be an integer in range`},
		{name: "trailing garbage", body: `{"name":"x"} x`, wantErr: key.ErrInvalid, wantMsg: "body must hold a single JSON object"},
		{name: "extra close", body: `{"name":"x"}}`, wantErr: key.ErrInvalid, wantMsg: "body must hold a single JSON object"},
		{name: "number body", body: `5`, wantErr: key.ErrInvalid, wantMsg: "body must be a JSON object"},
		{name: "object in a list of strings", body: `{"list":[{"a":1,"a":2}]}`, wantErr: key.ErrInvalid, wantMsg: `field "a" is given more than once`},
		{name: "type", body: `{"count":"2"}`, wantErr: key.ErrInvalid, wantMsg: `field "count" must be an integer in range`},
		{name: "fraction", body: `{"count":1.5}`, wantErr: key.ErrInvalid, wantMsg: `field "count" must be an integer in range`},
		{name: "element type", body: `{"list":[1]}`, wantErr: key.ErrInvalid, wantMsg: `field "list" must be a string`},
		{name: "array body", body: `[1]`, wantErr: key.ErrInvalid, wantMsg: "body must be a JSON object"},
		{name: "null body", body: `null`, wantErr: key.ErrInvalid, wantMsg: "body must be a JSON object"},
		{name: "null optional body", body: " null\n", optional: true, wantErr: key.ErrInvalid, wantMsg: "body must be a JSON object"},
		{name: "string body", body: `"x"`, wantErr: key.ErrInvalid, wantMsg: "body must be a JSON object"},
		{name: "trailing", body: `{} {}`, wantErr: key.ErrInvalid, wantMsg: "body must hold a single JSON object"},
		{name: "secret-shaped unknown name is not echoed", body: `{"paykeys_sk_test_abcdefghijklmnop":1}`, wantErr: key.ErrInvalid,
			wantMsg: "the body has an unknown field"},
		{name: "odd unknown name is not echoed", body: `{"a b\u202e":1}`, wantErr: key.ErrInvalid, wantMsg: "the body has an unknown field"},
		{name: "too large", body: `{"name":"` + strings.Repeat("x", MaxBody) + `"}`, wantErr: ErrTooLarge},
		{name: "too large b64", body: base64.StdEncoding.EncodeToString(make([]byte, MaxBody+1)), b64: true, wantErr: ErrTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var b body
			_, err := Decode(events.APIGatewayV2HTTPRequest{Body: c.body, IsBase64Encoded: c.b64}, &b, c.optional)
			if c.wantErr == nil && err != nil || c.wantErr != nil && !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if c.wantMsg != "" && err.Error() != c.wantMsg {
				t.Fatalf("message = %q, want %q", err.Error(), c.wantMsg)
			}
		})
	}
}

func TestActor(t *testing.T) {
	mk := func(claims map[string]string) Request {
		r := Request{}
		r.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: claims},
		}
		return r
	}
	full := func(role string) map[string]string {
		return map[string]string{"sub": "u", "merchant_id": "m", "role": role}
	}
	with := func(k, v string) map[string]string {
		c := full("admin")
		c[k] = v
		return c
	}
	cases := []struct {
		claims map[string]string
		need   Permission
		want   error
	}{
		{full("root"), Write, nil}, {full("admin"), Write, nil},
		{full("developer"), Verify, nil}, {full("developer"), Write, ErrForbidden},
		{full("viewer"), Read, nil}, {full("viewer"), Verify, ErrForbidden},
		{full("superuser"), Read, ErrForbidden}, {full(""), Read, ErrForbidden},
		{map[string]string{"merchant_id": "m", "role": "admin"}, Read, ErrUnauthenticated},
		{map[string]string{"sub": "u", "role": "admin"}, Read, ErrUnauthenticated},
		{nil, Read, ErrUnauthenticated},
		{with("merchant_id", "m_Ab-9_"), Write, nil},
		{with("merchant_id", strings.Repeat("m", 64)), Write, nil},
		{with("sub", "2f7c6a1e-93a4-4c0e-b7a1-2d0e5f3b9c11"), Write, nil},
		{with("sub", "auth0|5f7c8ec7c33c6c004bbafe82"), Write, nil},
		// HTTP API passes an array claim as "[a b]" and an object as JSON.
		{with("merchant_id", "[m_a m_b]"), Read, ErrUnauthenticated},
		{with("merchant_id", "[m_a]"), Read, ErrUnauthenticated},
		{with("merchant_id", `{"id":"m_a"}`), Read, ErrUnauthenticated},
		{with("merchant_id", strings.Repeat("m", 65)), Read, ErrUnauthenticated},
		{with("merchant_id", "m a"), Read, ErrUnauthenticated},
		{with("merchant_id", "m/../n"), Read, ErrUnauthenticated},
		{with("merchant_id", "m\u0000"), Read, ErrUnauthenticated},
		{with("merchant_id", "mé"), Read, ErrUnauthenticated},
		{with("sub", "[u1 u2]"), Read, ErrUnauthenticated},
		{with("sub", "{}"), Read, ErrUnauthenticated},
		{with("sub", "u\nx"), Read, ErrUnauthenticated},
		{with("sub", " "), Read, ErrUnauthenticated},
		{with("sub", " u"), Read, ErrUnauthenticated},
		{with("sub", "u\t"), Read, ErrUnauthenticated},
		{with("sub", "u\xff"), Read, ErrUnauthenticated},
		{with("sub", strings.Repeat("u", 256)), Read, ErrUnauthenticated},
		{with("role", "[admin viewer]"), Read, ErrUnauthenticated},
		{with("role", "[admin]"), Read, ErrUnauthenticated},
		{with("role", `{"r":"admin"}`), Read, ErrUnauthenticated},
	}
	for i, c := range cases {
		if _, err := Actor(mk(c.claims), c.need); !errors.Is(err, c.want) || (c.want == nil && err != nil) {
			t.Errorf("case %d %v: err = %v, want %v", i, c.claims, err, c.want)
		}
	}
	if _, err := Actor(Request{}, Read); !errors.Is(err, ErrUnauthenticated) {
		t.Error("no authorizer context must be 401")
	}
}
