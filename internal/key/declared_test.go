package key

import (
	"errors"
	"strings"
	"testing"
)

func TestDeclaredScopes(t *testing.T) {
	d, err := NewDeclaredScopes([]string{"payments:read", "payments:write", "refunds:create", "payments:read"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.List(), " "); got != "payments:read payments:write refunds:create" {
		t.Fatalf("List = %s", got)
	}
	cases := []struct {
		name    string
		decl    DeclaredScopes
		scopes  []string
		wantMsg string // "" when allowed
	}{
		{"none", d, nil, ""},
		{"declared", d, []string{"payments:read", "refunds:create"}, ""},
		{"star", d, []string{"*"}, ""},
		{"resource wildcard", d, []string{"payments:*"}, ""},
		{"typo", d, []string{"payments:read", "payments:wirte"}, `scope "payments:wirte" is not one this deployment declares`},
		{"undeclared resource", d, []string{"payouts:read"}, `scope "payouts:read" is not one`},
		{"wildcard matching nothing", d, []string{"payouts:*"}, `scope "payouts:*" is not one`},
		{"bad shape is not echoed", d, []string{"Payments Read"}, "scopes[0] must look like resource:action"},
		{"secret-shaped is not echoed", d, []string{"paykeys_sk_live_abc:read"}, "scopes[0] is not one this deployment declares"},
		{"nothing declared refuses every scope", DeclaredScopes{}, []string{"payments:read"}, "it declares no scopes"},
		{"nothing declared refuses star", DeclaredScopes{}, []string{"*"}, "it declares no scopes"},
		{"nothing declared allows none", DeclaredScopes{}, []string{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := c.decl.Check(c.scopes)
			if c.wantMsg == "" {
				if err != nil {
					t.Fatalf("Check = %v", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.wantMsg) {
				t.Fatalf("Check = %v, want 400 with %q", err, c.wantMsg)
			}
			if strings.Contains(err.Error(), "sk_live") {
				t.Fatalf("message echoes a secret-shaped scope: %v", err)
			}
		})
	}
	for _, bad := range []string{"*", "payments:*", "Payments", ""} {
		if _, err := NewDeclaredScopes([]string{bad}); err == nil {
			t.Errorf("NewDeclaredScopes(%q) accepted", bad)
		}
	}
}
