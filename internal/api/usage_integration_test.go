//go:build integration

package api_test

import (
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

func init() {
	golden["GET /v1/keys/{id}/usage"] = "keys/usage.json"
}

func TestUsageRoute(t *testing.T) {
	e := newEnv(t)
	e.api.Counters = e.store
	ctx := testenv.Context(t)
	c := e.create(minimal)
	other := e.create(minimal, merchant("m_beta"))
	today := e.clock.Now().UTC().Truncate(24 * time.Hour)
	date := func(daysAgo int) string { return today.AddDate(0, 0, -daysAgo).Format(store.DateLayout) }
	for _, d := range []key.UsageDay{
		{Date: date(0), Allowed: 5, Denied: map[string]int64{"NOT_FOUND": 2}},
		{Date: date(0), Allowed: 1},
		{Date: date(29), Denied: map[string]int64{"SIGNATURE_INVALID": 1}},
		{Date: date(30), Allowed: 9},
		{Date: date(365), Allowed: 3},
		{Date: date(366), Allowed: 4},
	} {
		if err := e.store.AddUsage(ctx, c.ID, d, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.store.AddUsage(ctx, other.ID, key.UsageDay{Date: date(0), Allowed: 100}, ""); err != nil {
		t.Fatal(err)
	}
	get := func(id string, q map[string]string, opts ...func(*req)) response {
		r := req{route: "GET /v1/keys/{id}/usage", id: id, query: q}
		if q == nil {
			r.query = map[string]string{}
		}
		for _, o := range opts {
			o(&r)
		}
		return e.do(r)
	}

	ok := []struct {
		name  string
		query map[string]string
		want  string
	}{
		{"default: the last 30 days", nil,
			`{"data":[{"date":"` + date(29) + `","allowed":0,"denied":{"SIGNATURE_INVALID":1}},{"date":"` + date(0) + `","allowed":6,"denied":{"NOT_FOUND":2}}]}`},
		{"from only: up to today", map[string]string{"from": date(30)},
			`{"data":[{"date":"` + date(30) + `","allowed":9,"denied":{}},{"date":"` + date(29) + `","allowed":0,"denied":{"SIGNATURE_INVALID":1}},{"date":"` + date(0) + `","allowed":6,"denied":{"NOT_FOUND":2}}]}`},
		{"to only: 30 days up to it", map[string]string{"to": date(1)},
			`{"data":[{"date":"` + date(30) + `","allowed":9,"denied":{}},{"date":"` + date(29) + `","allowed":0,"denied":{"SIGNATURE_INVALID":1}}]}`},
		{"366 days, both ends included", map[string]string{"from": date(365), "to": date(0), "unknown": "ignored"},
			`{"data":[{"date":"` + date(365) + `","allowed":3,"denied":{}},{"date":"` + date(30) + `","allowed":9,"denied":{}},{"date":"` + date(29) + `","allowed":0,"denied":{"SIGNATURE_INVALID":1}},{"date":"` + date(0) + `","allowed":6,"denied":{"NOT_FOUND":2}}]}`},
		{"one day", map[string]string{"from": date(366), "to": date(366)},
			`{"data":[{"date":"` + date(366) + `","allowed":4,"denied":{}}]}`},
		{"no activity", map[string]string{"from": date(28), "to": date(1)}, `{"data":[]}`},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(c.ID, tc.query)
			if resp.Status != 200 || resp.Body != tc.want {
				t.Errorf("got %d %s\nwant %s", resp.Status, resp.Body, tc.want)
			}
		})
	}

	for _, role := range []string{"root", "admin", "developer", "viewer"} {
		if resp := get(c.ID, nil, func(r *req) { r.role = role }); resp.Status != 200 {
			t.Errorf("role %s: %d %s", role, resp.Status, resp.Body)
		}
	}
	if resp := get(c.ID, nil, func(r *req) { r.role = "auditor" }); resp.Status != 403 || resp.errCode(t) != "forbidden" {
		t.Errorf("unknown role: %d %s", resp.Status, resp.Body)
	}

	bad := []struct {
		name  string
		query map[string]string
		msg   string
	}{
		{"from not a date", map[string]string{"from": "yesterday"}, "from must be a UTC date"},
		{"to not a date", map[string]string{"to": "2026-02-30"}, "to must be a UTC date"},
		{"from without zero padding", map[string]string{"from": "2026-1-05"}, "from must be a UTC date"},
		{"a timestamp", map[string]string{"to": "2026-11-23T00:00:00Z"}, "to must be a UTC date"},
		{"empty", map[string]string{"from": ""}, "from must be a UTC date"},
		{"from after to", map[string]string{"from": date(0), "to": date(1)}, "is after to"},
		{"367 days", map[string]string{"from": date(366), "to": date(0)}, "at most 366 days"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(c.ID, tc.query)
			if resp.Status != 400 || resp.errCode(t) != "invalid_request" || !strings.Contains(resp.Body, tc.msg) {
				t.Errorf("got %d %s, want 400 mentioning %q", resp.Status, resp.Body, tc.msg)
			}
		})
	}

	notFound := []struct {
		name, id, merchant string
	}{
		{"another merchant's key", other.ID, ""},
		{"my key, asked by another merchant", c.ID, "m_beta"},
		{"no such key", "ck_test_0000000000000000000000", ""},
		{"not a client ID", "nope", ""},
	}
	for _, tc := range notFound {
		t.Run(tc.name, func(t *testing.T) {
			resp := get(tc.id, nil, func(r *req) { r.merchant = tc.merchant })
			if resp.Status != 404 || resp.errCode(t) != "not_found" || strings.Contains(resp.Body, "allowed") {
				t.Errorf("got %d %s, want 404", resp.Status, resp.Body)
			}
		})
	}
	// The owner still sees its own counts.
	if resp := get(other.ID, nil, merchant("m_beta")); resp.Status != 200 || !strings.Contains(resp.Body, `"allowed":100`) {
		t.Errorf("owner: %d %s", resp.Status, resp.Body)
	}
}
