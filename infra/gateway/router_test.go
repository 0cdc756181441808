package main

import (
	"reflect"
	"strings"
	"testing"
)

func routesFor(keys ...string) []Route {
	var out []Route
	for _, k := range keys {
		if k == defaultRouteKey {
			out = append(out, Route{Method: "ANY", Path: defaultRouteKey, Function: "default"})
			continue
		}
		method, path, _ := strings.Cut(k, " ")
		out = append(out, Route{Method: method, Path: path, Function: k})
	}
	return out
}

func TestRouterMatch(t *testing.T) {
	management := routesFor(
		"POST /v1/keys",
		"GET /v1/keys",
		"GET /v1/keys/{id}",
		"PATCH /v1/keys/{id}",
		"DELETE /v1/keys/{id}",
		"GET /v1/keys/{id}/usage",
		"POST /v1/keys/{id}/reset",
		"POST /v1/keys/{id}/verify",
		"POST /v1/verify",
		"GET /v1/audit",
		"ANY /demo/{proxy+}",
	)
	tests := []struct {
		name      string
		routes    []Route
		method    string
		path      string
		wantRoute string // "" = not found
		wantPar   map[string]string
	}{
		{"exact", management, "POST", "/v1/keys", "POST /v1/keys", nil},
		{"exact other method", management, "GET", "/v1/keys", "GET /v1/keys", nil},
		{"param", management, "GET", "/v1/keys/ck_test_abc", "GET /v1/keys/{id}", map[string]string{"id": "ck_test_abc"}},
		{"param deeper", management, "POST", "/v1/keys/ck_test_abc/reset", "POST /v1/keys/{id}/reset", map[string]string{"id": "ck_test_abc"}},
		{"exact beats param", routesFor("GET /v1/keys/{id}", "GET /v1/keys/stats"), "GET", "/v1/keys/stats", "GET /v1/keys/stats", nil},
		{"param still matches others", routesFor("GET /v1/keys/{id}", "GET /v1/keys/stats"), "GET", "/v1/keys/x", "GET /v1/keys/{id}", map[string]string{"id": "x"}},
		{"literal segment wins left to right", routesFor("GET /a/{x}/c", "GET /{y}/b/c"), "GET", "/a/b/c", "GET /a/{x}/c", map[string]string{"x": "b"}},
		{"greedy", management, "POST", "/demo/payments/123", "ANY /demo/{proxy+}", map[string]string{"proxy": "payments/123"}},
		{"greedy one segment", management, "GET", "/demo/x", "ANY /demo/{proxy+}", map[string]string{"proxy": "x"}},
		{"greedy needs something", management, "GET", "/demo/", "", nil},
		{"greedy needs the prefix", management, "GET", "/demo", "", nil},
		{"greedy last", routesFor("ANY /{proxy+}", "GET /v1/keys/{id}"), "GET", "/v1/keys/k", "GET /v1/keys/{id}", map[string]string{"id": "k"}},
		{"greedy catches the rest", routesFor("ANY /{proxy+}", "GET /v1/keys/{id}"), "GET", "/v1/keys/k/extra", "ANY /{proxy+}", map[string]string{"proxy": "v1/keys/k/extra"}},
		{"longer greedy prefix wins", routesFor("ANY /demo/{proxy+}", "ANY /demo/admin/{rest+}"), "GET", "/demo/admin/x", "ANY /demo/admin/{rest+}", map[string]string{"rest": "x"}},
		{"exact method beats ANY", routesFor("ANY /demo/{proxy+}", "GET /demo/{proxy+}"), "GET", "/demo/a", "GET /demo/{proxy+}", map[string]string{"proxy": "a"}},
		{"ANY for other methods", routesFor("ANY /demo/{proxy+}", "GET /demo/{proxy+}"), "DELETE", "/demo/a", "ANY /demo/{proxy+}", map[string]string{"proxy": "a"}},
		{"ANY exact path", routesFor("ANY /x"), "OPTIONS", "/x", "ANY /x", nil},
		{"wrong method is 404", management, "PUT", "/v1/keys", "", nil},
		{"unknown path is 404", management, "GET", "/v2/keys", "", nil},
		{"trailing slash is another path", management, "GET", "/v1/keys/", "", nil},
		{"empty param does not match", management, "GET", "/v1/keys//usage", "", nil},
		{"case matters", management, "GET", "/V1/keys", "", nil},
		{"HEAD is not GET", management, "HEAD", "/v1/keys", "", nil},
		{"root", routesFor("GET /"), "GET", "/", "GET /", nil},
		{"default catches the rest", routesFor("GET /a", defaultRouteKey), "POST", "/zzz", "$default", nil},
		{"default loses to greedy", routesFor(defaultRouteKey, "ANY /{proxy+}"), "GET", "/zzz", "ANY /{proxy+}", map[string]string{"proxy": "zzz"}},
		{"no routes", nil, "GET", "/", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, err := NewRouter(tt.routes)
			if err != nil {
				t.Fatal(err)
			}
			route, params, ok := rt.Match(tt.method, tt.path)
			if tt.wantRoute == "" {
				if ok {
					t.Fatalf("Match(%s %s) = %s, want no match", tt.method, tt.path, route.Key())
				}
				return
			}
			if !ok {
				t.Fatalf("Match(%s %s): no match, want %s", tt.method, tt.path, tt.wantRoute)
			}
			if route.Key() != tt.wantRoute {
				t.Errorf("Match(%s %s) = %s, want %s", tt.method, tt.path, route.Key(), tt.wantRoute)
			}
			if !reflect.DeepEqual(params, tt.wantPar) {
				t.Errorf("params = %v, want %v", params, tt.wantPar)
			}
		})
	}
}

func TestNewRouterRejects(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
		want   string
	}{
		{"duplicate", routesFor("GET /a", "GET /a"), "declared twice"},
		{"bad method", routesFor("FETCH /a"), "unsupported method"},
		{"relative path", routesFor("GET a"), "must start with /"},
		{"partial variable", routesFor("GET /a/x{id}"), "whole segment"},
		{"greedy not last", routesFor("GET /{p+}/x"), "last segment"},
		{"repeated variable", routesFor("GET /{id}/{id}"), "used twice"},
		{"empty variable", routesFor("GET /{}"), "malformed"},
		{"empty segment", routesFor("GET /a//b"), "empty path segment"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRouter(tt.routes)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRouterOrderFromFixture(t *testing.T) {
	routes, _, err := LoadTemplate("testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRouter(routes)
	if err != nil {
		t.Fatal(err)
	}
	all := rt.Routes()
	if last := all[len(all)-1]; last.Key() != "ANY /demo/{proxy+}" {
		t.Errorf("greedy route should sort last, got %s", last.Key())
	}
}
