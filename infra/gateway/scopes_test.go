package main

import (
	"testing"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/config"
)

// Every function of the template gets the route scopes from Globals, so the
// management functions know what the authorizer requires, and the local
// gateway (which builds one App from the authorizer's settings) does too.
func TestTemplateDeclaresScopesToEveryFunction(t *testing.T) {
	auth, err := functionEnvironment("../../template.yaml", "AuthorizeFunction")
	if err != nil {
		t.Fatal(err)
	}
	if auth["ROUTE_SCOPES"] == "" {
		t.Fatalf("authorizer environment = %v", auth)
	}
	for _, fn := range []string{"CreateFunction", "KeysFunction"} {
		env, err := functionEnvironment("../../template.yaml", fn)
		if err != nil {
			t.Fatal(err)
		}
		if env["ROUTE_SCOPES"] != auth["ROUTE_SCOPES"] {
			t.Errorf("%s ROUTE_SCOPES = %q, want the authorizer's %q", fn, env["ROUTE_SCOPES"], auth["ROUTE_SCOPES"])
		}
	}
	cfg, err := config.Load(func(k string) string {
		if k == "TABLE_NAME" {
			return "t"
		}
		if k == "EXTRA_SCOPES" {
			return "refunds:create"
		}
		return auth[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	d, err := app.DeclaredScopes(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Check([]string{"payments:read", "payments:write", "refunds:create", "*", "payments:*"}); err != nil {
		t.Errorf("declared scopes refused: %v", err)
	}
	if err := d.Check([]string{"payments:wirte"}); err == nil {
		t.Error("a typo was accepted")
	}
}
