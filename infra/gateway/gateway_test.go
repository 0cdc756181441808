package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
	"github.com/golang-jwt/jwt/v5"
)

// syncBuffer is a log sink safe for concurrent writers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// lines decodes the JSON log lines.
func (s *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", l, err)
		}
		out = append(out, m)
	}
	return out
}

// recorder is a handler that remembers the events it was given.
type recorder struct {
	mu     sync.Mutex
	events []events.APIGatewayV2HTTPRequest
	names  []string
}

func (r *recorder) handler(name string) Handler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		r.mu.Lock()
		r.events = append(r.events, ev)
		r.names = append(r.names, name)
		r.mu.Unlock()
		if _, ok := lambdacontext.FromContext(ctx); !ok {
			return events.APIGatewayV2HTTPResponse{}, errors.New("no lambda context")
		}
		if _, ok := ctx.Deadline(); !ok {
			return events.APIGatewayV2HTTPResponse{}, errors.New("no deadline")
		}
		return events.APIGatewayV2HTTPResponse{
			StatusCode: 200,
			Headers:    map[string]string{"Content-Type": "application/json"},
			Body:       `{"function":"` + name + `"}`,
		}, nil
	}
}

func (r *recorder) last(t *testing.T) (string, events.APIGatewayV2HTTPRequest) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		t.Fatal("no function was called")
	}
	return r.names[len(r.names)-1], r.events[len(r.events)-1]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

type testGateway struct {
	*Gateway
	srv *httptest.Server
	rec *recorder
	log *syncBuffer
}

func newTestGateway(t *testing.T, routes []Route, b *Backend) *testGateway {
	t.Helper()
	if routes == nil {
		var err error
		if routes, _, err = LoadTemplate("testdata/template.yaml"); err != nil {
			t.Fatal(err)
		}
	}
	logs := &syncBuffer{}
	gw, err := NewGateway(Config{
		Routes:    routes,
		JWTSecret: testSecret,
		Logger:    slog.New(slog.NewJSONHandler(logs, nil)),
		Now:       func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{}
	if b != nil {
		if b.Handlers == nil {
			b.Handlers = map[string]Handler{}
			for _, name := range []string{"create", "keys", "reset", "verify", "demo"} {
				b.Handlers[name] = rec.handler(name)
			}
		}
		gw.SetBackend(*b)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return &testGateway{Gateway: gw, srv: srv, rec: rec, log: logs}
}

type reqSpec struct {
	method, path string
	headers      map[string]string
	body         []byte
}

func (tg *testGateway) do(t *testing.T, rs reqSpec) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(rs.method, tg.srv.URL+rs.path, bytes.NewReader(rs.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range rs.headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

func bearer(t *testing.T, o TokenOptions) map[string]string {
	t.Helper()
	if o.TTL == 0 {
		o.TTL = time.Hour
	}
	if o.Now.IsZero() {
		o.Now = testNow
	}
	if o.Issuer == "" {
		o.Issuer = localIssuer
	}
	if o.Audience == "" {
		o.Audience = localAudience
	}
	tok, err := MintToken(testSecret, o)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"Authorization": "Bearer " + tok}
}

func TestGatewayRoutesAndJWT(t *testing.T) {
	tg := newTestGateway(t, nil, &Backend{})
	admin := bearer(t, TokenOptions{Subject: "user_dev", Merchant: "m_demo", Role: "admin", Issuer: localIssuer, Audience: localAudience})
	expired := bearer(t, TokenOptions{Subject: "u", Merchant: "m", Role: "admin", Now: testNow.Add(-2 * time.Hour)})
	claimed := func(k string, v any) map[string]string {
		return map[string]string{"Authorization": "Bearer " + signHS(t, jwt.SigningMethodHS256, testSecret, with(validClaims(), k, v))}
	}

	tests := []struct {
		name         string
		req          reqSpec
		wantStatus   int
		wantBody     string
		wantFunction string
		wantRouteKey string
		wantParams   map[string]string
		wantAuth     string // "jwt", "none"
	}{
		{name: "create", req: reqSpec{method: "POST", path: "/v1/keys", headers: admin, body: []byte(`{"name":"x"}`)},
			wantStatus: 200, wantFunction: "create", wantRouteKey: "POST /v1/keys", wantAuth: "jwt"},
		{name: "list", req: reqSpec{method: "GET", path: "/v1/keys?limit=10", headers: admin},
			wantStatus: 200, wantFunction: "keys", wantRouteKey: "GET /v1/keys", wantAuth: "jwt"},
		{name: "get", req: reqSpec{method: "GET", path: "/v1/keys/ck_test_1", headers: admin},
			wantStatus: 200, wantFunction: "keys", wantRouteKey: "GET /v1/keys/{id}", wantParams: map[string]string{"id": "ck_test_1"}, wantAuth: "jwt"},
		{name: "usage", req: reqSpec{method: "GET", path: "/v1/keys/ck_test_1/usage", headers: admin},
			wantStatus: 200, wantFunction: "keys", wantRouteKey: "GET /v1/keys/{id}/usage", wantParams: map[string]string{"id": "ck_test_1"}, wantAuth: "jwt"},
		{name: "reset", req: reqSpec{method: "POST", path: "/v1/keys/ck_test_1/reset", headers: admin},
			wantStatus: 200, wantFunction: "reset", wantRouteKey: "POST /v1/keys/{id}/reset", wantParams: map[string]string{"id": "ck_test_1"}, wantAuth: "jwt"},
		{name: "delete", req: reqSpec{method: "DELETE", path: "/v1/keys/ck_test_1", headers: admin},
			wantStatus: 200, wantFunction: "keys", wantRouteKey: "DELETE /v1/keys/{id}", wantParams: map[string]string{"id": "ck_test_1"}, wantAuth: "jwt"},
		{name: "service verify needs no token", req: reqSpec{method: "POST", path: "/v1/verify", body: []byte(`{"secret":"paykeys_sk_test_x"}`), headers: map[string]string{"Content-Type": "application/json"}},
			wantStatus: 200, wantFunction: "verify", wantRouteKey: "POST /v1/verify", wantAuth: "none"},
		{name: "service verify ignores a bad token", req: reqSpec{method: "POST", path: "/v1/verify", headers: map[string]string{"Authorization": "Bearer junk"}},
			wantStatus: 200, wantFunction: "verify", wantRouteKey: "POST /v1/verify", wantAuth: "none"},
		{name: "no token", req: reqSpec{method: "GET", path: "/v1/keys"},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "expired token", req: reqSpec{method: "GET", path: "/v1/keys", headers: expired},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "token from another issuer", req: reqSpec{method: "GET", path: "/v1/keys", headers: claimed("iss", "https://idp.example")},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "token without iss", req: reqSpec{method: "GET", path: "/v1/keys", headers: claimed("iss", nil)},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "token for another audience", req: reqSpec{method: "GET", path: "/v1/keys", headers: claimed("aud", "payments")},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "token without aud", req: reqSpec{method: "GET", path: "/v1/keys", headers: claimed("aud", nil)},
			wantStatus: 401, wantBody: `{"message":"Unauthorized"}`},
		{name: "unknown route", req: reqSpec{method: "GET", path: "/v2/keys", headers: admin},
			wantStatus: 404, wantBody: `{"message":"Not Found"}`},
		{name: "unknown method", req: reqSpec{method: "PUT", path: "/v1/keys/ck_test_1", headers: admin},
			wantStatus: 404, wantBody: `{"message":"Not Found"}`},
		{name: "unknown route without token is still 404", req: reqSpec{method: "GET", path: "/nope"},
			wantStatus: 404, wantBody: `{"message":"Not Found"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tg.rec.count()
			res, body := tg.do(t, tt.req)
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", res.StatusCode, tt.wantStatus, body)
			}
			if len(res.Header.Get("apigw-requestid")) != 16 {
				t.Errorf("apigw-requestid = %q", res.Header.Get("apigw-requestid"))
			}
			if tt.wantFunction == "" {
				if body != tt.wantBody {
					t.Errorf("body = %s, want %s", body, tt.wantBody)
				}
				if res.Header.Get("Content-Type") != "application/json" {
					t.Errorf("content-type = %q", res.Header.Get("Content-Type"))
				}
				if tt.wantStatus == 401 && !strings.HasPrefix(res.Header.Get("www-authenticate"), "Bearer") {
					t.Errorf("www-authenticate = %q", res.Header.Get("www-authenticate"))
				}
				if tt.wantStatus == 401 && tt.req.headers != nil && !strings.Contains(res.Header.Get("www-authenticate"), `error="invalid_token"`) {
					t.Errorf("www-authenticate = %q, want error=\"invalid_token\"", res.Header.Get("www-authenticate"))
				}
				if tg.rec.count() != before {
					t.Error("a function was called")
				}
				return
			}
			name, ev := tg.rec.last(t)
			if name != tt.wantFunction || ev.RouteKey != tt.wantRouteKey || ev.RequestContext.RouteKey != tt.wantRouteKey {
				t.Errorf("called %s with %s, want %s with %s", name, ev.RouteKey, tt.wantFunction, tt.wantRouteKey)
			}
			if !reflect.DeepEqual(ev.PathParameters, tt.wantParams) {
				t.Errorf("pathParameters = %v, want %v", ev.PathParameters, tt.wantParams)
			}
			if ev.RequestContext.HTTP.SourceIP != "127.0.0.1" {
				t.Errorf("sourceIp = %q", ev.RequestContext.HTTP.SourceIP)
			}
			switch tt.wantAuth {
			case "jwt":
				a := ev.RequestContext.Authorizer
				if a == nil || a.JWT == nil {
					t.Fatal("no jwt authorizer in the event")
				}
				want := map[string]string{
					"sub": "user_dev", "merchant_id": "m_demo", "role": "admin",
					"iss": "paykeys-local", "aud": "paykeys", "iat": "1795428000", "exp": "1795431600",
				}
				if !reflect.DeepEqual(a.JWT.Claims, want) {
					t.Errorf("claims = %v, want %v", a.JWT.Claims, want)
				}
			case "none":
				if ev.RequestContext.Authorizer != nil {
					t.Errorf("authorizer = %+v, want none", ev.RequestContext.Authorizer)
				}
			}
			if body != `{"function":"`+tt.wantFunction+`"}` {
				t.Errorf("body = %s", body)
			}
		})
	}
}

func TestGatewayClaimsJSON(t *testing.T) {
	// The event as a Go handler in Lambda would decode it from JSON.
	tg := newTestGateway(t, nil, &Backend{})
	tg.do(t, reqSpec{method: "GET", path: "/v1/audit", headers: bearer(t, TokenOptions{Subject: "u1", Merchant: "m_1", Role: "viewer", Scope: "a b"})})
	_, ev := tg.rec.last(t)
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		RequestContext struct {
			Authorizer struct {
				JWT struct {
					Claims map[string]any `json:"claims"`
					Scopes []string       `json:"scopes"`
				} `json:"jwt"`
			} `json:"authorizer"`
		} `json:"requestContext"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	c := m.RequestContext.Authorizer.JWT.Claims
	if c["sub"] != "u1" || c["merchant_id"] != "m_1" || c["role"] != "viewer" || c["exp"] != "1795431600" {
		t.Errorf("requestContext.authorizer.jwt.claims = %v", c)
	}
	if !reflect.DeepEqual(m.RequestContext.Authorizer.JWT.Scopes, []string{"a", "b"}) {
		t.Errorf("scopes = %v", m.RequestContext.Authorizer.JWT.Scopes)
	}
}

func TestGatewayBodies(t *testing.T) {
	tg := newTestGateway(t, nil, &Backend{})
	binary := []byte{0x00, 0xff, 0x10, 0x80}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantBody    string
		wantB64     bool
	}{
		{"json", "application/json", []byte(`{"secret":"paykeys_sk_test_x"}`), `{"secret":"paykeys_sk_test_x"}`, false},
		{"binary", "application/octet-stream", binary, base64.StdEncoding.EncodeToString(binary), true},
		{"invalid utf-8 json", "application/json", binary, base64.StdEncoding.EncodeToString(binary), true},
		{"form (as curl -d sends)", "application/x-www-form-urlencoded", []byte(`{"a":1}`), base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)), true},
		{"none", "", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.contentType != "" {
				h["Content-Type"] = tt.contentType
			}
			res, _ := tg.do(t, reqSpec{method: "POST", path: "/v1/verify", headers: h, body: tt.body})
			if res.StatusCode != 200 {
				t.Fatalf("status %d", res.StatusCode)
			}
			_, ev := tg.rec.last(t)
			if ev.Body != tt.wantBody || ev.IsBase64Encoded != tt.wantB64 {
				t.Errorf("body = %q (base64 %v), want %q (%v)", ev.Body, ev.IsBase64Encoded, tt.wantBody, tt.wantB64)
			}
		})
	}
}

func TestGatewayBodyLimit(t *testing.T) {
	routes := []Route{{Method: "POST", Path: "/v1/verify", Function: "verify", Auth: RouteAuth{Kind: AuthNone}}}
	logs := &syncBuffer{}
	gw, err := NewGateway(Config{Routes: routes, JWTSecret: testSecret, MaxBodyBytes: 1024, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	var called atomic.Bool
	gw.SetBackend(Backend{Handlers: map[string]Handler{"verify": func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		called.Store(true)
		return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
	}}})
	srv := httptest.NewServer(gw)
	defer srv.Close()
	for _, tc := range []struct {
		size int
		want int
	}{{1024, 200}, {1025, 413}} {
		called.Store(false)
		res, err := http.Post(srv.URL+"/v1/verify", "application/json", bytes.NewReader(bytes.Repeat([]byte("a"), tc.size)))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want || called.Load() != (tc.want == 200) {
			t.Errorf("%d bytes: status %d (called %v), want %d; %s", tc.size, res.StatusCode, called.Load(), tc.want, b)
		}
	}
}

func TestGatewayFunctionFailures(t *testing.T) {
	routes := []Route{
		{Method: "GET", Path: "/error", Function: "error", Auth: RouteAuth{Kind: AuthNone}},
		{Method: "GET", Path: "/panic", Function: "panic", Auth: RouteAuth{Kind: AuthNone}},
		{Method: "GET", Path: "/missing", Function: "missing", Auth: RouteAuth{Kind: AuthNone}},
		{Method: "GET", Path: "/badresponse", Function: "badresponse", Auth: RouteAuth{Kind: AuthNone}},
		{Method: "GET", Path: "/slow", Function: "slow", Auth: RouteAuth{Kind: AuthNone}, Timeout: 50 * time.Millisecond, IntegrationTimeout: time.Second},
		{Method: "GET", Path: "/slowintegration", Function: "slow", Auth: RouteAuth{Kind: AuthNone}, Timeout: time.Second, IntegrationTimeout: 50 * time.Millisecond},
	}
	slowDone := make(chan error, 2)
	b := &Backend{Handlers: map[string]Handler{
		"error": func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, errors.New("dynamodb unreachable")
		},
		"panic": func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			panic("handler bug: index out of range")
		},
		"badresponse": func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			return events.APIGatewayV2HTTPResponse{Body: "no status"}, nil
		},
		"slow": func(ctx context.Context, _ events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
			<-ctx.Done()
			slowDone <- ctx.Err()
			return events.APIGatewayV2HTTPResponse{StatusCode: 200}, nil
		},
	}}
	tg := newTestGateway(t, routes, b)
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string
		wantLog    string
	}{
		{"/error", 500, `{"message":"Internal Server Error"}`, "dynamodb unreachable"},
		{"/panic", 500, `{"message":"Internal Server Error"}`, "handler bug: index out of range"},
		{"/missing", 500, `{"message":"Internal Server Error"}`, "no handler for function missing"},
		{"/badresponse", 500, `{"message":"Internal Server Error"}`, "invalid statusCode 0"},
		{"/slow", 500, `{"message":"Internal Server Error"}`, "function timed out after 50ms"},
		{"/slowintegration", 503, `{"message":"Service Unavailable"}`, "integration timed out after 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res, body := tg.do(t, reqSpec{method: "GET", path: tt.path})
			if res.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Errorf("got %d %s, want %d %s", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if !strings.Contains(tg.log.String(), tt.wantLog) {
				t.Errorf("log does not mention %q:\n%s", tt.wantLog, tg.log.String())
			}
		})
	}
	// The timed-out invocations see their context cancelled.
	for range 2 {
		select {
		case err := <-slowDone:
			if err == nil {
				t.Error("slow handler's context was not cancelled")
			}
		case <-time.After(5 * time.Second):
			t.Fatal("slow handler never saw its context end")
		}
	}
}

func TestGatewayHealth(t *testing.T) {
	routes := []Route{{Method: "GET", Path: "/v1/keys", Function: "keys", Auth: RouteAuth{Kind: AuthNone}}}
	tg := newTestGateway(t, routes, nil)

	check := func(method string, wantStatus int, wantBody string) {
		t.Helper()
		res, body := tg.do(t, reqSpec{method: method, path: "/healthz"})
		if res.StatusCode != wantStatus || body != wantBody {
			t.Errorf("%s /healthz = %d %s, want %d %s", method, res.StatusCode, body, wantStatus, wantBody)
		}
	}
	check("GET", 503, `{"status":"starting"}`)
	if res, body := tg.do(t, reqSpec{method: "GET", path: "/v1/keys"}); res.StatusCode != 503 || body != `{"message":"Service Unavailable"}` {
		t.Errorf("route before backend = %d %s, want 503", res.StatusCode, body)
	}

	var mu sync.Mutex
	readyErr := errors.New("dynamodb local not up")
	tg.SetBackend(Backend{Handlers: map[string]Handler{}, Readiness: func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("readiness without deadline")
		}
		mu.Lock()
		defer mu.Unlock()
		return readyErr
	}})
	check("GET", 503, `{"status":"unavailable"}`)
	if !strings.Contains(tg.log.String(), "dynamodb local not up") {
		t.Error("readiness failure not logged")
	}
	mu.Lock()
	readyErr = nil
	mu.Unlock()
	check("GET", 200, `{"status":"ok"}`)
	check("HEAD", 200, "")
	if res, _ := tg.do(t, reqSpec{method: "POST", path: "/healthz"}); res.StatusCode != 404 {
		t.Errorf("POST /healthz = %d, want 404", res.StatusCode)
	}

	tg.SetBackend(Backend{})
	check("GET", 200, `{"status":"ok"}`)
}

func TestGatewayAccessLog(t *testing.T) {
	tg := newTestGateway(t, nil, &Backend{})
	h := bearer(t, TokenOptions{Subject: "u", Merchant: "m", Role: "admin"})
	h["X-Api-Key"] = "paykeys_sk_test_SECRETHEADERVALUE"
	res, _ := tg.do(t, reqSpec{method: "POST", path: "/v1/keys/ck_test_1/verify?token=QUERYSECRET", headers: h, body: []byte(`{"secret":"paykeys_sk_test_SECRETBODYVALUE"}`)})
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	tg.do(t, reqSpec{method: "GET", path: "/nope"})

	out := tg.log.String()
	for _, secret := range []string{"SECRETHEADERVALUE", "SECRETBODYVALUE", "QUERYSECRET", h["Authorization"][7:]} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q:\n%s", secret, out)
		}
	}
	var access []map[string]any
	for _, l := range tg.log.lines(t) {
		if l["msg"] == "request" {
			access = append(access, l)
		}
	}
	if len(access) != 2 {
		t.Fatalf("access lines = %v", access)
	}
	first := access[0]
	want := map[string]any{
		"method": "POST", "path": "/v1/keys/ck_test_1/verify", "route": "POST /v1/keys/{id}/verify",
		"function": "verify", "status": float64(200),
	}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("access log %s = %v, want %v", k, first[k], v)
		}
	}
	if id, _ := first["request_id"].(string); id != res.Header.Get("apigw-requestid") {
		t.Errorf("request_id = %v, want the apigw-requestid %q", first["request_id"], res.Header.Get("apigw-requestid"))
	}
	if _, ok := first["latency_ms"].(float64); !ok {
		t.Errorf("latency_ms = %v", first["latency_ms"])
	}
	allowed := map[string]bool{"time": true, "level": true, "msg": true, "method": true, "path": true, "route": true,
		"function": true, "status": true, "latency_ms": true, "request_id": true}
	for k := range first {
		if !allowed[k] {
			t.Errorf("unexpected access log field %q", k)
		}
	}
	if access[1]["status"] != float64(404) || access[1]["route"] != "" {
		t.Errorf("404 access line = %v", access[1])
	}
}

// authorizeFunc is a Lambda authorizer handler as its package would write it.
type authorizeFunc func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (any, error)

func TestGatewayLambdaAuthorizer(t *testing.T) {
	simpleAllow := func(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (any, error) {
		switch ev.Headers["x-api-key"] {
		case "paykeys_sk_test_good":
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: true, Context: map[string]any{
				"merchant_id": "m_demo", "key_id": "ck_test_1", "environment": ev.StageVariables["environment"], "route_arn": ev.RouteArn,
			}}, nil
		case "paykeys_sk_live_good":
			return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: false}, nil
		case "boom":
			return nil, errors.New("secrets manager unreachable")
		}
		return nil, errors.New("Unauthorized")
	}

	tg := newTestGateway(t, nil, &Backend{Authorizers: map[string]Invoker{"authorize": lambda.NewHandler(authorizeFunc(simpleAllow))}})
	tests := []struct {
		name       string
		key        string
		method     string
		wantStatus int
		wantBody   string
	}{
		{"allowed", "paykeys_sk_test_good", "POST", 200, `{"function":"demo"}`},
		{"allowed GET", "paykeys_sk_test_good", "GET", 200, `{"function":"demo"}`},
		{"denied", "paykeys_sk_live_good", "GET", 403, `{"message":"Forbidden"}`},
		{"unauthorized", "paykeys_sk_test_wrong", "GET", 401, `{"message":"Unauthorized"}`},
		{"no key", "", "GET", 401, `{"message":"Unauthorized"}`},
		{"authorizer error", "boom", "GET", 500, `{"message":"Internal Server Error"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tg.rec.count()
			h := map[string]string{}
			if tt.key != "" {
				h["X-API-Key"] = tt.key
			}
			res, body := tg.do(t, reqSpec{method: tt.method, path: "/demo/payments/42?x=1", headers: h})
			if res.StatusCode != tt.wantStatus || body != tt.wantBody {
				t.Fatalf("got %d %s, want %d %s", res.StatusCode, body, tt.wantStatus, tt.wantBody)
			}
			if tt.wantStatus != 200 {
				if tg.rec.count() != before {
					t.Error("backend called after a refusal")
				}
				return
			}
			_, ev := tg.rec.last(t)
			if ev.RouteKey != "ANY /demo/{proxy+}" || ev.PathParameters["proxy"] != "payments/42" {
				t.Errorf("event route %s params %v", ev.RouteKey, ev.PathParameters)
			}
			a := ev.RequestContext.Authorizer
			if a == nil || a.JWT != nil {
				t.Fatalf("authorizer = %+v", a)
			}
			wantCtx := map[string]any{
				"merchant_id": "m_demo", "key_id": "ck_test_1", "environment": "test",
				"route_arn": "arn:aws:execute-api:us-east-1:123456789012:paymentapi/$default/" + tt.method + "/demo/payments/42",
			}
			if !reflect.DeepEqual(a.Lambda, wantCtx) {
				t.Errorf("authorizer.lambda = %v, want %v", a.Lambda, wantCtx)
			}
			if ev.StageVariables["environment"] != "test" {
				t.Errorf("stage variables = %v", ev.StageVariables)
			}
		})
	}
	if !strings.Contains(tg.log.String(), "secrets manager unreachable") {
		t.Error("authorizer error not logged")
	}

	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan string, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				key := "paykeys_sk_test_good"
				want := 200
				if i%2 == 1 {
					key, want = "paykeys_sk_live_good", 403
				}
				req, _ := http.NewRequest("GET", tg.srv.URL+"/demo/x", nil)
				req.Header.Set("X-API-Key", key)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				res.Body.Close()
				if res.StatusCode != want {
					errs <- key + ": " + res.Status
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	})
}

func TestGatewayLambdaAuthorizerVariants(t *testing.T) {
	policy := func(effect, resource string) events.APIGatewayV2CustomAuthorizerIAMPolicyResponse {
		return events.APIGatewayV2CustomAuthorizerIAMPolicyResponse{
			PrincipalID: "ck_test_1",
			PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
				Version:   "2012-10-17",
				Statement: []events.IAMPolicyStatement{{Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource}}},
			},
			Context: map[string]any{"key_id": "ck_test_1"},
		}
	}
	route := func(auth RouteAuth) []Route {
		auth.Kind, auth.Function = AuthLambda, "authorize"
		return []Route{{Method: "ANY", Path: "/demo/{proxy+}", Function: "demo", API: "PaymentApi", Auth: auth}}
	}
	tests := []struct {
		name       string
		auth       RouteAuth
		authorizer any
		headers    map[string]string
		wantStatus int
		wantCalled bool
	}{
		{
			name: "iam policy allow (2.0)", auth: RouteAuth{PayloadVersion: "2.0"},
			authorizer: func(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
				return policy("Allow", ev.RouteArn), nil
			},
			wantStatus: 200, wantCalled: true,
		},
		{
			name: "iam policy wildcard allow", auth: RouteAuth{PayloadVersion: "2.0"},
			authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
				return policy("Allow", "arn:aws:execute-api:*:*:paymentapi/*/GET/demo/*"), nil
			},
			wantStatus: 200, wantCalled: true,
		},
		{
			name: "iam policy for another resource", auth: RouteAuth{PayloadVersion: "2.0"},
			authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
				return policy("Allow", "arn:aws:execute-api:*:*:paymentapi/*/POST/*"), nil
			},
			wantStatus: 403,
		},
		{
			name: "iam policy deny", auth: RouteAuth{PayloadVersion: "2.0"},
			authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
				return policy("Deny", "*"), nil
			},
			wantStatus: 403,
		},
		{
			name: "payload 1.0", auth: RouteAuth{PayloadVersion: "1.0"},
			authorizer: func(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV1Request) (events.APIGatewayV2CustomAuthorizerIAMPolicyResponse, error) {
				if ev.Version != "1.0" || ev.Type != "REQUEST" || ev.HTTPMethod != "GET" || ev.Path != "/demo/a" ||
					ev.Resource != "/demo/{proxy+}" || ev.Headers["x-api-key"] != "k" || ev.RequestContext.Identity.SourceIP != "127.0.0.1" {
					return policy("Deny", "*"), nil
				}
				return policy("Allow", ev.MethodArn), nil
			},
			headers: map[string]string{"X-API-Key": "k"}, wantStatus: 200, wantCalled: true,
		},
		{
			name: "identity source missing: 401 without a call", auth: RouteAuth{PayloadVersion: "2.0", SimpleResponses: true, IdentityHeaders: []string{"x-api-key"}},
			authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				panic("must not be called")
			},
			wantStatus: 401,
		},
		{
			name: "identity source present", auth: RouteAuth{PayloadVersion: "2.0", SimpleResponses: true, IdentityHeaders: []string{"x-api-key"}},
			authorizer: func(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: reflect.DeepEqual(ev.IdentitySource, []string{"k"})}, nil
			},
			headers: map[string]string{"X-API-Key": "k"}, wantStatus: 200, wantCalled: true,
		},
		{
			name: "authorizer panics", auth: RouteAuth{PayloadVersion: "2.0", SimpleResponses: true},
			authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				panic("authorizer bug")
			},
			wantStatus: 500,
		},
		{
			name: "simple response without isAuthorized", auth: RouteAuth{PayloadVersion: "2.0", SimpleResponses: true},
			authorizer: func(context.Context, events.APIGatewayV2CustomAuthorizerV2Request) (map[string]any, error) {
				return map[string]any{"context": map[string]any{}}, nil
			},
			wantStatus: 500,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg := newTestGateway(t, route(tt.auth), &Backend{Authorizers: map[string]Invoker{"authorize": lambda.NewHandler(tt.authorizer)}})
			res, body := tg.do(t, reqSpec{method: "GET", path: "/demo/a", headers: tt.headers})
			if res.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; %s\n%s", res.StatusCode, tt.wantStatus, body, tg.log.String())
			}
			if called := tg.rec.count() > 0; called != tt.wantCalled {
				t.Errorf("backend called = %v, want %v", called, tt.wantCalled)
			}
		})
	}

	t.Run("no authorizer registered", func(t *testing.T) {
		tg := newTestGateway(t, route(RouteAuth{PayloadVersion: "2.0", SimpleResponses: true}), &Backend{})
		res, _ := tg.do(t, reqSpec{method: "GET", path: "/demo/a"})
		if res.StatusCode != 500 || !strings.Contains(tg.log.String(), "no authorizer handler for function authorize") {
			t.Errorf("status %d, log:\n%s", res.StatusCode, tg.log.String())
		}
		if missing := tg.MissingFunctions(Backend{Handlers: map[string]Handler{"demo": nil}}); !reflect.DeepEqual(missing, []string{"authorizer authorize"}) {
			t.Errorf("MissingFunctions = %v", missing)
		}
	})
}

func TestWildcardMatch(t *testing.T) {
	tests := []struct {
		pattern, value string
		want           bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"a*c", "abbbc", true},
		{"a*c", "abbbd", false},
		{"a?c", "abc", true},
		{"a?c", "ac", false},
		{"arn:*/GET/*", "arn:x/GET/demo/a", true},
		{"arn:*/GET/*", "arn:x/POST/demo/a", false},
		{"exact", "exact", true},
		{"exact", "exact2", false},
	}
	for _, tt := range tests {
		if got := wildcardMatch(tt.pattern, tt.value); got != tt.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tt.pattern, tt.value, got, tt.want)
		}
	}
}
