//go:build integration

package api_test

import (
	"strings"
	"testing"
)

// Keys may be granted only the scopes the deployment declares, or wildcards
// matching one of them, at create and in a patch; a typo is a 400 that
// names the scope.
func TestDeclaredScopesAtCreateAndPatch(t *testing.T) {
	e := newEnv(t)
	k := e.create(`{"name":"checkout","environment":"test","scopes":["payments:read"]}`)
	cases := []struct {
		name    string
		route   string
		body    string
		status  int
		message string
	}{
		{"create declared", "POST /v1/keys", `{"name":"a","environment":"test","scopes":["payments:read","refunds:create"]}`, 201, ""},
		{"create wildcards", "POST /v1/keys", `{"name":"a","environment":"test","scopes":["*","payments:*"]}`, 201, ""},
		{"create typo", "POST /v1/keys", `{"name":"a","environment":"test","scopes":["payments:wirte"]}`, 400, `scope "payments:wirte" is not one this deployment declares`},
		{"create undeclared wildcard", "POST /v1/keys", `{"name":"a","environment":"test","scopes":["payouts:*"]}`, 400, `scope "payouts:*" is not one`},
		{"patch declared", "PATCH /v1/keys/{id}", `{"scopes":["payments:write"]}`, 200, ""},
		{"patch typo", "PATCH /v1/keys/{id}", `{"scopes":["payment:read"]}`, 400, `scope "payment:read" is not one`},
		{"patch null clears", "PATCH /v1/keys/{id}", `{"scopes":null}`, 200, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp := e.do(req{route: c.route, id: k.ID, body: c.body})
			if resp.Status != c.status || c.message != "" && !strings.Contains(strings.ReplaceAll(resp.Body, `\"`, `"`), c.message) {
				t.Fatalf("%d %s, want %d %q", resp.Status, resp.Body, c.status, c.message)
			}
		})
	}
}
