//go:build integration

package main

import (
	"sort"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/testenv"
)

// The real wiring, against the local stack: every function the template
// routes to is there, the authorizer is registered, and the table is made.
func TestWiring(t *testing.T) {
	testenv.Dynamo(t) // fails, not skips, without the local stack
	t.Setenv("TEMPLATE", "../../template.yaml")
	t.Setenv("TABLE_NAME", testenv.UniqueName(t, "gw"))
	// A secret prefix of its own: the gateway's lifecycle runs sweep old
	// secrets under it that this table does not name (make dev's).
	t.Setenv("SECRET_PREFIX", testenv.UniqueName(t, "gw")+"/")
	ctx := testenv.Context(t)

	hs, ready, cleanup, err := handlers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	var names []string
	for n := range hs {
		names = append(names, n)
	}
	sort.Strings(names)
	if got, want := strings.Join(names, ","), "create,demo,keys,portal,reset,verify,webhooks"; got != want {
		t.Errorf("handlers = %s, want %s", got, want)
	}
	if _, ok := registeredAuthorizers()["authorize"]; !ok {
		t.Error("authorize is not registered as an authorizer")
	}
	if err := ready(ctx); err != nil {
		t.Errorf("ready = %v", err)
	}

	routes, warnings, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("template warnings: %v", warnings)
	}
	for _, r := range routes {
		if _, ok := hs[r.Function]; !ok {
			t.Errorf("route %s %s goes to %s, which is not wired", r.Method, r.Path, r.Function)
		}
		if r.Path == "/demo/{proxy+}" && (r.Auth.Kind != AuthLambda || r.Auth.Function != "authorize" || r.StageVariables["environment"] != "test") {
			t.Errorf("demo route auth = %+v, stage variables %v", r.Auth, r.StageVariables)
		}
	}
}
