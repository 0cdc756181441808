package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/api"
)

// With the real template, a route or method the management API does not
// declare reaches its $default route, which the keys function serves with
// the API's error body: 404 not_found, never API Gateway's
// {"message":"Not Found"}, with or without a token.
func TestUnknownRoutesGetTheErrorBody(t *testing.T) {
	routes, warnings, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("template warnings: %v", warnings)
	}
	var def *Route
	for i, r := range routes {
		if r.Key() == defaultRouteKey {
			def = &routes[i]
		}
	}
	if def == nil {
		t.Fatal("the template has no $default route")
	}
	if def.Function != "keys" || def.Auth.Kind != AuthNone || def.API != "ManagementApi" {
		t.Errorf("$default route = function %s, auth %s, api %s; want keys, none, ManagementApi", def.Function, def.Auth.Kind, def.API)
	}

	rec := &recorder{}
	keys := (&api.API{Log: slog.New(slog.DiscardHandler)}).Function("keys")
	b := &Backend{Handlers: map[string]Handler{"keys": Handler(keys)}, Authorizers: map[string]Invoker{}}
	for _, name := range []string{"create", "reset", "verify", "webhooks", "demo"} {
		b.Handlers[name] = rec.handler(name)
	}
	tg := newTestGateway(t, routes, b)
	admin := bearer(t, TokenOptions{Subject: "user_dev", Merchant: "m_demo", Role: "admin"})

	tests := []struct {
		name    string
		req     reqSpec
		wantFn  string // a declared route: the function it reaches
		wantKey string
	}{
		{name: "unknown path", req: reqSpec{method: "GET", path: "/v2/keys", headers: admin}},
		{name: "unknown method on a key", req: reqSpec{method: "PUT", path: "/v1/keys/ck_test_1", headers: admin}},
		{name: "unknown method on the list", req: reqSpec{method: "DELETE", path: "/v1/keys", headers: admin}},
		{name: "HEAD is not GET", req: reqSpec{method: "HEAD", path: "/v1/audit", headers: admin}},
		{name: "trailing slash", req: reqSpec{method: "GET", path: "/v1/keys/", headers: admin}},
		{name: "the root", req: reqSpec{method: "GET", path: "/"}},
		{name: "no token", req: reqSpec{method: "GET", path: "/nope"}},
		{name: "a bad token", req: reqSpec{method: "POST", path: "/v1/nope", headers: map[string]string{"Authorization": "Bearer junk"}}},
		{name: "a secret in the path is not echoed", req: reqSpec{method: "GET", path: "/v1/paykeys_sk_test_abcdefghijklmnopqrstuvwxyz0123456789AB", headers: admin}},
		{name: "declared routes still reach their function", req: reqSpec{method: "POST", path: "/v1/keys/ck_test_1/reset", headers: admin},
			wantFn: "reset", wantKey: "POST /v1/keys/{id}/reset"},
		{name: "IAM route still served", req: reqSpec{method: "POST", path: "/v1/verify"},
			wantFn: "verify", wantKey: "POST /v1/verify"},
		{name: "webhooks still served", req: reqSpec{method: "GET", path: "/v1/webhooks", headers: admin},
			wantFn: "webhooks", wantKey: "GET /v1/webhooks"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := tg.do(t, tt.req)
			if tt.wantFn != "" {
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status = %d, body %s", res.StatusCode, body)
				}
				name, ev := rec.last(t)
				if name != tt.wantFn || ev.RouteKey != tt.wantKey {
					t.Errorf("reached %s with %s, want %s with %s", name, ev.RouteKey, tt.wantFn, tt.wantKey)
				}
				return
			}
			if res.StatusCode != http.StatusNotFound {
				t.Fatalf("status = %d, want 404; body %s", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("content-type = %q", ct)
			}
			if tt.req.method == "HEAD" {
				return // no body to read
			}
			var got struct {
				Error *struct {
					Code      string `json:"code"`
					Message   string `json:"message"`
					RequestID string `json:"request_id"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || got.Error == nil {
				t.Fatalf("body = %s, want the error body", body)
			}
			if got.Error.Code != "not_found" || got.Error.Message == "" {
				t.Errorf("error = %+v, want code not_found and a message", *got.Error)
			}
			if got.Error.RequestID == "" || got.Error.RequestID != res.Header.Get("apigw-requestid") {
				t.Errorf("request_id = %q, apigw-requestid = %q", got.Error.RequestID, res.Header.Get("apigw-requestid"))
			}
			if strings.Contains(body, "paykeys_sk_") || strings.Contains(body, tt.req.path[1:]) && tt.req.path != "/" {
				t.Errorf("body echoes the path: %s", body)
			}
		})
	}
}

// Without a $default route the gateway answers unmatched requests as API
// Gateway does, so the template's catch-all is what makes the difference.
func TestUnknownRouteWithoutCatchAll(t *testing.T) {
	routes, _, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var declared []Route
	for _, r := range routes {
		if r.Key() != defaultRouteKey {
			declared = append(declared, r)
		}
	}
	tg := newTestGateway(t, declared, &Backend{})
	res, err := http.Get(tg.srv.URL + "/v2/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusNotFound || string(body) != `{"message":"Not Found"}` {
		t.Errorf("got %d %s, want API Gateway's own 404", res.StatusCode, body)
	}
}
