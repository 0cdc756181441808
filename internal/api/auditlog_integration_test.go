//go:build integration

package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// Refused changes are coalesced per actor, action, outcome and resource in
// each window, with a count, and one actor's records are bounded however
// many refused requests it sends.
func TestRefusedChangesAreCoalescedAndBounded(t *testing.T) {
	e := newEnv(t)
	k := e.create(`{"name":"checkout","environment":"test"}`)
	if r := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}); r.Status != 204 {
		t.Fatalf("revoke: %d", r.Status)
	}
	for range 30 {
		if r := e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"x"}`}); r.Status != 409 {
			t.Fatalf("patch of a revoked key: %d", r.Status)
		}
	}
	e.clock.Advance(time.Second) // records sort by time
	for range 5 {
		if r := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID, role: "developer", sub: "user_dev"}); r.Status != 403 {
			t.Fatalf("developer delete: %d", r.Status)
		}
	}
	type rec struct {
		action, actor, outcome, resource string
		count                            int
	}
	var got []rec
	for _, r := range e.auditOf("m_alpha") {
		if r.Outcome != "success" {
			got = append(got, rec{r.Action, r.Actor, r.Outcome, r.ResourceID, r.Count})
		}
	}
	want := []rec{
		{"key.revoke", "user_dev", "denied", k.ID, 5},
		{"key.update", "user_1", "conflict", k.ID, 30},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("refusal records:\n got %v\nwant %v", got, want)
	}

	// A flood over many IDs of our shape: at most store.RefusalResources
	// records name a resource; the rest share one record without.
	const flood = store.RefusalResources + 15
	for range flood {
		r := e.do(req{route: "PATCH /v1/keys/{id}", id: key.NewClientID(key.EnvTest), merchant: "m_beta", sub: "user_mallory", body: `{"name":"x"}`})
		if r.Status != 404 {
			t.Fatalf("patch of an unknown key: %d", r.Status)
		}
	}
	recs := e.auditOf("m_beta")
	total, named, unnamed := 0, 0, 0
	for _, r := range recs {
		total += r.Count
		if r.ResourceID == "" {
			unnamed++
		} else {
			named++
		}
	}
	if total != flood || named != store.RefusalResources || unnamed != 1 {
		t.Fatalf("flood of %d: %d records (%d named, %d not), counts sum to %d", flood, len(recs), named, unnamed, total)
	}

	// The next window starts new records.
	e.clock.Advance(store.RefusalWindow)
	e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"x"}`})
	n := 0
	for _, r := range e.auditOf("m_alpha") {
		if r.Action == "key.update" && r.Outcome == "conflict" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("conflict records after a new window = %d, want 2", n)
	}
}

// Updates name the fields they changed, and a successful webhook retry is
// audited.
func TestAuditNamesChangesAndRetries(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	hook, _ := e.register(rcv.URL, "key.*")
	k := e.create(`{"name":"checkout","environment":"test"}`)
	for _, body := range []string{`{"name":"v2","scopes":["payments:read"],"rotation_days":30}`, `{"status":"disabled"}`} {
		if r := e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: body}); r.Status != 200 {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
	}
	if r := e.do(req{route: "PATCH /v1/webhooks/{id}", id: hook, body: `{"description":"ops","event_types":["*"]}`}); r.Status != 200 {
		t.Fatalf("webhook patch: %d %s", r.Status, r.Body)
	}
	e.sweep()
	var ds struct {
		Data []api.DeliveryView `json:"data"`
	}
	json.Unmarshal([]byte(e.do(req{route: "GET /v1/webhooks/{id}/deliveries", id: hook, query: map[string]string{}}).Body), &ds)
	if len(ds.Data) == 0 {
		t.Fatal("no delivery to retry")
	}
	e.clock.Advance(time.Second)
	r := e.doPath(req{route: "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", id: hook, body: "-"},
		map[string]string{"delivery_id": ds.Data[0].ID})
	if r.Status != 202 {
		t.Fatalf("retry: %d %s", r.Status, r.Body)
	}
	got := map[string]string{}
	for _, a := range e.auditOf("m_alpha") {
		if a.Outcome == "success" {
			got[a.Action] = fmt.Sprint(a.Changes)
		}
	}
	want := map[string]string{
		"key.create": "[]", "key.update": "[name scopes rotation_days]", "key.disable": "[status]",
		"webhook.create": "[]", "webhook.update": "[event_types description]", "webhook.retry": "[]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("audit changes by action:\n got %v\nwant %v", got, want)
	}
}
