//go:build integration

package api_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// auditOf returns a merchant's audit log, newest first (one page).
func (e *env) auditOf(merchant string) []auditRecord {
	e.t.Helper()
	resp := e.do(req{route: "GET /v1/audit", merchant: merchant, query: map[string]string{"limit": "100"}})
	var page struct{ Data []auditRecord }
	if resp.Status != 200 || json.Unmarshal([]byte(resp.Body), &page) != nil {
		e.t.Fatalf("audit: %d %s", resp.Status, resp.Body)
	}
	return page.Data
}

// An Idempotency-Key belongs to the merchant and the user who sent it, and a
// replay hands out a secret only while it is still the key's current one.
func TestIdempotencyPerUserAndOnlyLiveSecrets(t *testing.T) {
	e := newEnv(t)
	body := `{"name":"checkout","environment":"test"}`
	send := func(sub, idem string) response {
		return e.do(req{route: "POST /v1/keys", body: body, sub: sub, headers: map[string]string{"idempotency-key": idem}})
	}
	first := send("user_ada", "order-1")
	if first.Status != 201 {
		t.Fatalf("create: %d %s", first.Status, first.Body)
	}
	secret := first.json(t)["secret"].(string)
	id := first.json(t)["key"].(map[string]any)["id"].(string)

	// Another admin of the same merchant with the same key: a new request.
	other := send("user_bob", "order-1")
	if other.Status != 201 || other.Headers["Idempotent-Replayed"] == "true" || strings.Contains(other.Body, secret) {
		t.Fatalf("another user's request with the same key got the first user's result: %d", other.Status)
	}
	// The same user again: the same result.
	again := send("user_ada", "order-1")
	if again.Status != 201 || again.Body != first.Body || again.Headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("replay: %d %s", again.Status, again.Body)
	}

	// After a reset the first secret is dead: the replay is 409 with nothing in it.
	reset := e.do(req{route: "POST /v1/keys/{id}/reset", id: id, body: "-"})
	if reset.Status != 200 {
		t.Fatalf("reset: %d %s", reset.Status, reset.Body)
	}
	newSecret := reset.json(t)["secret"].(string)
	after := send("user_ada", "order-1")
	if after.Status != 409 || after.errCode(t) != "conflict" || strings.Contains(after.Body, "sk_") || strings.Contains(after.Body, newSecret) {
		t.Fatalf("replay after reset: %d %s", after.Status, after.Body)
	}

	// After a revoke, likewise.
	revoked := send("user_ada", "order-2")
	rid := revoked.json(t)["key"].(map[string]any)["id"].(string)
	if r := e.do(req{route: "DELETE /v1/keys/{id}", id: rid}); r.Status != 204 {
		t.Fatalf("revoke: %d", r.Status)
	}
	if r := send("user_ada", "order-2"); r.Status != 409 || strings.Contains(r.Body, "sk_") {
		t.Fatalf("replay after revoke: %d %s", r.Status, r.Body)
	}

	// After expiry, likewise (the scheduled job has not run).
	exp := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	expBody := `{"name":"short","environment":"test","expires_at":"` + exp + `"}`
	if r := e.do(req{route: "POST /v1/keys", body: expBody, sub: "user_ada", headers: map[string]string{"idempotency-key": "order-3"}}); r.Status != 201 {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	e.clock.Advance(2 * time.Hour)
	if r := e.do(req{route: "POST /v1/keys", body: expBody, sub: "user_ada", headers: map[string]string{"idempotency-key": "order-3"}}); r.Status != 409 || strings.Contains(r.Body, "sk_") {
		t.Fatalf("replay after expiry: %d %s", r.Status, r.Body)
	}

	// Exactly the one replay that returned a secret is audited as replayed.
	var replayed []auditRecord
	for _, r := range e.auditOf("m_alpha") {
		if r.Outcome == "replayed" {
			replayed = append(replayed, r)
		}
	}
	if len(replayed) != 1 || replayed[0].Actor != "user_ada" || replayed[0].ResourceID != id || replayed[0].Action != "key.create" {
		t.Fatalf("replayed records = %+v, want one by user_ada for %s", replayed, id)
	}
}

// Once expires_at has passed a key is expired everywhere, and no patch or
// reset brings it back, whether or not the scheduled job has run.
func TestExpiryIsFinal(t *testing.T) {
	e := newEnv(t)
	exp := e.clock.Now().Add(time.Hour).Format(time.RFC3339)
	k := e.create(`{"name":"short","environment":"test","expires_at":"` + exp + `"}`)
	e.clock.Advance(time.Hour + time.Second)

	if g := e.do(req{route: "GET /v1/keys/{id}", id: k.ID}); g.json(t)["status"] != "expired" {
		t.Fatalf("get: %s", g.Body)
	}
	for _, q := range []map[string]string{{}, {"status": "expired"}} {
		l := e.do(req{route: "GET /v1/keys", query: q})
		var page struct{ Data []map[string]any }
		if json.Unmarshal([]byte(l.Body), &page) != nil || len(page.Data) != 1 || page.Data[0]["status"] != "expired" {
			t.Fatalf("list %v: %s", q, l.Body)
		}
	}
	if l := e.do(req{route: "GET /v1/keys", query: map[string]string{"status": "active"}}); strings.Contains(l.Body, k.ID) {
		t.Fatalf("expired key listed as active: %s", l.Body)
	}
	future := e.clock.Now().Add(30 * 24 * time.Hour).Format(time.RFC3339)
	for _, r := range []req{
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"expires_at":"` + future + `"}`},
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"expires_at":null}`},
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"status":"active"}`},
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"renamed"}`},
		{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"},
	} {
		if resp := e.do(r); resp.Status != 409 || resp.errCode(t) != "conflict" {
			t.Errorf("%s %s on an expired key: %d %s, want 409", r.route, r.body, resp.Status, resp.Body)
		}
	}
	if g := e.do(req{route: "GET /v1/keys/{id}", id: k.ID}).json(t); g["status"] != "expired" || g["expires_at"] != exp {
		t.Fatalf("expired key changed: %v", g)
	}
	// Per-key verify says whose secret it is, and that the key is expired.
	if _, st := e.verify(k.ID, k.Secret); st != "expired" {
		t.Fatalf("verify status = %s, want expired", st)
	}
}

// statuses counts the answers of parallel requests by status code.
func parallel(n int, do func(i int) int) map[int]int {
	var mu sync.Mutex
	var wg sync.WaitGroup
	got := map[int]int{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := do(i)
			mu.Lock()
			got[st]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// The per-merchant limit of keys that are not revoked holds under parallel
// creates, and a revoked key frees its place.
func TestKeyLimitHoldsUnderParallelCreates(t *testing.T) {
	e := newEnv(t)
	const limit = 5
	e.svc.MaxKeys = limit
	got := parallel(20, func(int) int {
		return e.do(req{route: "POST /v1/keys", body: `{"name":"k","environment":"test"}`}).Status
	})
	if got[201] > limit || got[201]+got[409] != 20 {
		t.Fatalf("20 parallel creates with a limit of %d: %v", limit, got)
	}
	for range limit - got[201] {
		e.create(`{"name":"k","environment":"test"}`)
	}
	over := e.do(req{route: "POST /v1/keys", body: `{"name":"k","environment":"test"}`})
	if over.Status != 409 || !strings.Contains(over.Body, fmt.Sprintf("at most %d keys", limit)) {
		t.Fatalf("create past the limit: %d %s", over.Status, over.Body)
	}
	l := e.do(req{route: "GET /v1/keys", query: map[string]string{}})
	var page struct{ Data []map[string]any }
	if json.Unmarshal([]byte(l.Body), &page) != nil || len(page.Data) != limit {
		t.Fatalf("merchant has %d keys, want %d", len(page.Data), limit)
	}
	// Another merchant has its own limit.
	e.create(`{"name":"k","environment":"test"}`, merchant("m_beta"))
	// Revoking a key frees its place, once: a second revoke frees nothing.
	id := page.Data[0]["id"].(string)
	for range 2 {
		if r := e.do(req{route: "DELETE /v1/keys/{id}", id: id}); r.Status != 204 {
			t.Fatalf("revoke: %d", r.Status)
		}
	}
	e.create(`{"name":"k","environment":"test"}`)
	if r := e.do(req{route: "POST /v1/keys", body: `{"name":"k","environment":"test"}`}); r.Status != 409 {
		t.Fatalf("create past the limit after one revoke: %d %s", r.Status, r.Body)
	}
}

// The per-merchant limit of webhook endpoints holds under parallel creates,
// and a deleted endpoint frees its place.
func TestWebhookLimitHoldsUnderParallelCreates(t *testing.T) {
	e := newHookEnv(t, true)
	const limit = 5
	e.api.Webhooks.MaxPerMerchant = limit
	rcv := newReceiver(t, ok200)
	body := `{"url":"` + rcv.URL + `"}`
	got := parallel(20, func(int) int {
		resp := e.do(req{route: "POST /v1/webhooks", body: body})
		if resp.Status == 201 {
			e.seen.Store(resp.json(t)["signing_secret"].(string), true)
		}
		return resp.Status
	})
	if got[201] > limit || got[201]+got[409] != 20 {
		t.Fatalf("20 parallel creates with a limit of %d: %v", limit, got)
	}
	for range limit - got[201] {
		e.register(rcv.URL)
	}
	if r := e.do(req{route: "POST /v1/webhooks", body: body}); r.Status != 409 || !strings.Contains(r.Body, "at most 5 webhook endpoints") {
		t.Fatalf("create past the limit: %d %s", r.Status, r.Body)
	}
	l := e.do(req{route: "GET /v1/webhooks", query: map[string]string{}})
	var page struct{ Data []map[string]any }
	if json.Unmarshal([]byte(l.Body), &page) != nil || len(page.Data) != limit {
		t.Fatalf("merchant has %d endpoints, want %d: %s", len(page.Data), limit, l.Body)
	}
	if r := e.do(req{route: "DELETE /v1/webhooks/{id}", id: page.Data[0]["id"].(string)}); r.Status != 204 {
		t.Fatalf("delete: %d", r.Status)
	}
	e.register(rcv.URL)
	if r := e.do(req{route: "POST /v1/webhooks", body: body}); r.Status != 409 {
		t.Fatalf("create past the limit after a delete: %d", r.Status)
	}
}

// Each key event carries the key's revision after the change, and its
// timestamp has millisecond precision.
func TestEventsCarryRevisionAndMilliseconds(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	e.register(rcv.URL, "key.*")
	e.clock.Advance(123 * time.Millisecond)
	k := e.create(`{"name":"checkout","environment":"test"}`)
	if p := e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"v2"}`}); p.Status != 200 || p.json(t)["revision"] != float64(2) {
		t.Fatalf("patch: %d %s", p.Status, p.Body)
	}
	if r := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"}); r.Status != 200 || r.json(t)["key"].(map[string]any)["revision"] != float64(3) {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	if r := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}); r.Status != 204 {
		t.Fatalf("revoke: %d", r.Status)
	}
	e.sweep()
	wantTS := e.clock.Now().UTC().Format("2006-01-02T15:04:05") + ".123Z"
	ms := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)
	revs := map[string]float64{}
	for _, g := range rcv.received() {
		var p struct {
			Type      string `json:"type"`
			Timestamp string `json:"timestamp"`
			Data      struct {
				Key map[string]any `json:"key"`
			} `json:"data"`
		}
		if err := json.Unmarshal(g.Body, &p); err != nil {
			t.Fatal(err)
		}
		if !ms.MatchString(p.Timestamp) || p.Timestamp != wantTS {
			t.Errorf("%s: timestamp %q, want %q", p.Type, p.Timestamp, wantTS)
		}
		revs[p.Type], _ = p.Data.Key["revision"].(float64)
	}
	want := map[string]float64{"key.created": 1, "key.updated": 2, "key.reset": 3, "key.revoked": 4}
	if fmt.Sprint(revs) != fmt.Sprint(want) {
		t.Fatalf("revisions by event = %v, want %v", revs, want)
	}
	if g := e.do(req{route: "GET /v1/keys/{id}", id: k.ID}).json(t); g["revision"] != float64(4) {
		t.Fatalf("revision after revoke = %v, want 4", g["revision"])
	}
}
