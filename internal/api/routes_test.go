package api

import "testing"

// Each group of the route table belongs to one function, no function has
// two groups, and no route is in two: Handler can take a function's name
// from its group, and Function finds the same routes as Handler.
func TestRouteGroupsAreOnePerFunction(t *testing.T) {
	groups := [][]Route{CreateRoutes, KeysRoutes, ResetRoutes, VerifyRoutes, WebhooksRoutes}
	functions, keys := map[string]bool{}, map[string]bool{}
	total := 0
	for _, g := range groups {
		if len(g) == 0 {
			t.Fatal("an empty group")
		}
		name := g[0].Function
		if functions[name] {
			t.Errorf("%s has two groups", name)
		}
		functions[name] = true
		for _, r := range g {
			if r.Function != name {
				t.Errorf("%s is in the group of %s but names %s", r.Key, name, r.Function)
			}
			if keys[r.Key] {
				t.Errorf("%s is in two groups", r.Key)
			}
			keys[r.Key] = true
			total++
		}
	}
	if all := Routes(); len(all) != total {
		t.Errorf("Routes has %d routes, the groups %d", len(all), total)
	}
}
