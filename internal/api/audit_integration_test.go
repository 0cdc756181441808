//go:build integration

package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// step is one request of a scripted portal session, from its own address
// and with its own request ID, so the audit record can be matched to it.
type step struct {
	r      req
	ip     string
	status int
}

func (e *env) session(s step) response {
	e.t.Helper()
	ev := e.event(s.r)
	ev.RequestContext.RequestID = "req-" + strings.ReplaceAll(s.ip, ".", "-") + "-" + ev.RequestContext.RequestID
	ev.RequestContext.HTTP.SourceIP = s.ip
	resp, err := e.invoke(functionOf[s.r.route], ev)
	if err != nil {
		e.t.Fatalf("%s: handler returned an error: %v", s.r.route, err)
	}
	var m map[string]any
	if json.Unmarshal([]byte(resp.Body), &m) == nil {
		if sk, ok := m["secret"].(string); ok {
			e.seen.Store(sk, true)
		}
	}
	if resp.StatusCode != s.status {
		e.t.Fatalf("%s from %s: %d %s, want %d", s.r.route, s.ip, resp.StatusCode, resp.Body, s.status)
	}
	return response{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
}

type auditRecord struct {
	ID           string    `json:"id"`
	Actor        string    `json:"actor"`
	Role         string    `json:"role"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Outcome      string    `json:"outcome"`
	SourceIP     string    `json:"source_ip"`
	RequestID    string    `json:"request_id"`
	CreatedAt    time.Time `json:"created_at"`
	Changes      []string  `json:"changes"`
	Count        int       `json:"count"`
}

// A scripted portal session leaves exactly one audit record per change, each
// saying who did what from where, and no secret anywhere.
func TestAuditOfAPortalSession(t *testing.T) {
	e := newEnv(t)
	admin := func(r req) req { r.sub, r.role = "user_ada", "admin"; return r }
	type change struct {
		action, actor, role, ip string
		at                      time.Time
		outcome                 string
	}
	var want []change
	var reqIDs []string
	tick := func() time.Time { e.clock.Advance(time.Minute); return e.clock.Now() }
	audited := func(action, actor, role, ip string) {
		want = append(want, change{action, actor, role, ip, e.clock.Now(), "success"})
	}
	run := func(s step) response {
		t.Helper()
		before := len(e.logs.String())
		resp := e.session(s)
		// The request ID of the request just made, from its log line.
		for _, line := range strings.Split(e.logs.String()[before:], "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "request" {
				reqIDs = append(reqIDs, m["request_id"].(string))
			}
		}
		return resp
	}

	// Create, and retry the create with the same Idempotency-Key.
	tick()
	body := `{"name":"checkout","environment":"test","scopes":["payments:read"]}`
	created := run(step{admin(req{route: "POST /v1/keys", body: body, headers: map[string]string{"idempotency-key": "order-42"}}), "203.0.113.10", 201})
	audited("key.create", "user_ada", "admin", "203.0.113.10")
	m := created.json(t)
	id, firstSecret := m["key"].(map[string]any)["id"].(string), m["secret"].(string)
	tick()
	replay := run(step{admin(req{route: "POST /v1/keys", body: body, headers: map[string]string{"idempotency-key": "order-42"}}), "203.0.113.11", 201})
	if replay.json(t)["secret"] != firstSecret || replay.Headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("idempotent retry: %s", replay.Body)
	}
	// A replay that hands the secret out again is audited as such.
	want = append(want, change{"key.create", "user_ada", "admin", "203.0.113.11", e.clock.Now(), "replayed"})

	// Read, patch, a patch that changes nothing, disable.
	tick()
	run(step{req{route: "GET /v1/keys/{id}", id: id, role: "viewer", sub: "user_vic"}, "203.0.113.12", 200})
	tick()
	run(step{admin(req{route: "PATCH /v1/keys/{id}", id: id, body: `{"name":"checkout v2","scopes":["payments:read","payments:write"]}`}), "203.0.113.13", 200})
	audited("key.update", "user_ada", "admin", "203.0.113.13")
	tick()
	run(step{admin(req{route: "PATCH /v1/keys/{id}", id: id, body: `{"name":"checkout v2"}`}), "203.0.113.14", 200})
	tick()
	run(step{req{route: "PATCH /v1/keys/{id}", id: id, body: `{"status":"disabled"}`, sub: "user_root", role: "root"}, "2001:db8::15", 200})
	audited("key.disable", "user_root", "root", "2001:db8::15")

	// Reset with a grace period; verify both secrets.
	tick()
	reset := run(step{admin(req{route: "POST /v1/keys/{id}/reset", id: id, body: `{"grace_period_seconds":3600}`}), "203.0.113.16", 200})
	audited("key.reset", "user_ada", "admin", "203.0.113.16")
	newSecret := reset.json(t)["secret"].(string)
	for _, sk := range []string{newSecret, firstSecret} {
		tick()
		b, _ := json.Marshal(map[string]string{"secret": sk})
		v := run(step{req{route: "POST /v1/keys/{id}/verify", id: id, body: string(b), role: "developer", sub: "user_dev"}, "203.0.113.17", 200})
		if vm := v.json(t); vm["valid"] != true || vm["status"] != "disabled" {
			t.Fatalf("verify: %s", v.Body)
		}
	}

	// Revoke, twice; the second announces and records nothing.
	tick()
	run(step{admin(req{route: "DELETE /v1/keys/{id}", id: id, body: "-"}), "203.0.113.18", 204})
	audited("key.revoke", "user_ada", "admin", "203.0.113.18")
	tick()
	run(step{admin(req{route: "DELETE /v1/keys/{id}", id: id, body: "-"}), "203.0.113.19", 204})
	tick()
	if g := run(step{req{route: "GET /v1/keys/{id}", id: id, role: "viewer"}, "203.0.113.20", 200}); g.json(t)["status"] != "revoked" {
		t.Fatalf("get after revoke: %s", g.Body)
	}

	// Only root and admin may read the audit log.
	for _, role := range []string{"developer", "viewer"} {
		resp := e.session(step{req{route: "GET /v1/audit", role: role, query: map[string]string{}}, "203.0.113.30", 403})
		if resp.errCode(t) != "forbidden" {
			t.Errorf("%s: %s", role, resp.Body)
		}
	}
	// Another merchant sees none of it.
	if resp := e.session(step{req{route: "GET /v1/audit", merchant: "m_beta", query: map[string]string{}}, "203.0.113.31", 200}); resp.Body != `{"data":[],"next_cursor":null}` {
		t.Errorf("another merchant's audit log: %s", resp.Body)
	}

	var bodies []string
	for _, role := range []string{"root", "admin"} {
		resp := e.session(step{req{route: "GET /v1/audit", role: role, query: map[string]string{}}, "203.0.113.32", 200})
		bodies = append(bodies, resp.Body)
		var page struct {
			Data       []auditRecord `json:"data"`
			NextCursor *string       `json:"next_cursor"`
		}
		if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
			t.Fatal(err)
		}
		if len(page.Data) != len(want) || page.NextCursor != nil {
			t.Fatalf("%s: %d records, want %d (one per change): %s", role, len(page.Data), len(want), resp.Body)
		}
		seen := map[string]bool{}
		for i, w := range want {
			got := page.Data[len(want)-1-i] // newest first
			switch {
			case got.Action != w.action || got.Actor != w.actor || got.Role != w.role || got.SourceIP != w.ip:
				t.Errorf("record %d: %s by %s (%s) from %s, want %s by %s (%s) from %s",
					i, got.Action, got.Actor, got.Role, got.SourceIP, w.action, w.actor, w.role, w.ip)
			case got.ResourceType != "key" || got.ResourceID != id || got.Outcome != w.outcome:
				t.Errorf("record %d: resource %s %s, outcome %s", i, got.ResourceType, got.ResourceID, got.Outcome)
			case !got.CreatedAt.Equal(w.at):
				t.Errorf("record %d (%s): created_at %v, want %v", i, w.action, got.CreatedAt, w.at)
			case !strings.HasPrefix(got.RequestID, "req-"+strings.ReplaceAll(w.ip, ".", "-")+"-") || !slices.Contains(reqIDs, got.RequestID):
				t.Errorf("record %d (%s): request_id %q is not the request's", i, w.action, got.RequestID)
			case got.ID == "" || seen[got.ID]:
				t.Errorf("record %d: id %q missing or repeated", i, got.ID)
			}
			seen[got.ID] = true
		}
	}

	// No secret handed out in the session, nor anything shaped like one,
	// is in the audit log or in the logs.
	logs := e.logs.String()
	for _, text := range append(bodies, logs) {
		for _, sk := range []string{firstSecret, newSecret} {
			if strings.Contains(text, sk) {
				t.Error("a secret of the session appears in the audit log or the logs")
			}
		}
		if strings.Contains(text, "sk_") {
			t.Errorf("something shaped like a secret appears after %q", before(text, "sk_"))
		}
	}
	if !strings.Contains(logs, id) {
		t.Error("the logs do not mention the key at all: the check above proves nothing")
	}
}

// before shows a little of the text before the first sub, for a failure
// message that must not print what follows it.
func before(text, sub string) string {
	i := strings.Index(text, sub)
	return text[max(0, i-60):i]
}

// A change refused for the role, for another merchant's object, or for a
// conflict is audited too, under the caller's merchant; an ID from the path
// is recorded only if it has the shape of one of ours, so a secret pasted
// into a path is written nowhere.
func TestAuditRecordsRefusedChanges(t *testing.T) {
	e := newEnv(t)
	k := e.create(`{"name":"checkout","environment":"test"}`)
	for _, s := range []step{
		{req{route: "DELETE /v1/keys/{id}", id: k.ID, role: "developer", sub: "user_dev", body: "-"}, "203.0.113.40", 403},
		{req{route: "PATCH /v1/keys/{id}", id: k.ID, merchant: "m_beta", sub: "user_mallory", body: `{"name":"x"}`}, "203.0.113.41", 404},
		{req{route: "PATCH /v1/keys/{id}", id: k.Secret, merchant: "m_beta", sub: "user_mallory", body: `{"name":"x"}`}, "203.0.113.42", 404},
		{req{route: "DELETE /v1/keys/{id}", id: k.ID, body: "-"}, "203.0.113.43", 204},
		{req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"}, "203.0.113.44", 409},
	} {
		e.clock.Advance(time.Second) // records sort by time
		if r := e.session(s); r.Status != s.status {
			t.Fatalf("%s from %s: %d, want %d", s.r.route, s.ip, r.Status, s.status)
		}
	}

	audit := func(merchant string) []auditRecord {
		t.Helper()
		resp := e.session(step{req{route: "GET /v1/audit", merchant: merchant, query: map[string]string{}}, "203.0.113.50", 200})
		if strings.Contains(resp.Body, k.Secret) || strings.Contains(resp.Body, "sk_") {
			t.Fatal("a secret is in the audit log")
		}
		var page struct{ Data []auditRecord }
		if err := json.Unmarshal([]byte(resp.Body), &page); err != nil {
			t.Fatal(err)
		}
		return page.Data
	}
	type rec struct{ action, actor, outcome, resource, ip string }
	var alpha, beta []rec
	for _, r := range audit("m_alpha") {
		alpha = append(alpha, rec{r.Action, r.Actor, r.Outcome, r.ResourceID, r.SourceIP})
	}
	for _, r := range audit("m_beta") {
		beta = append(beta, rec{r.Action, r.Actor, r.Outcome, r.ResourceID, r.SourceIP})
	}
	wantAlpha := []rec{ // newest first
		{"key.reset", "user_1", "conflict", k.ID, "203.0.113.44"},
		{"key.revoke", "user_1", "success", k.ID, "203.0.113.43"},
		{"key.revoke", "user_dev", "denied", k.ID, "203.0.113.40"},
		{"key.create", "user_1", "success", k.ID, "198.51.100.23"},
	}
	wantBeta := []rec{
		{"key.update", "user_mallory", "denied", "", "203.0.113.42"},
		{"key.update", "user_mallory", "denied", k.ID, "203.0.113.41"},
	}
	if !slices.Equal(alpha, wantAlpha) {
		t.Errorf("m_alpha's audit log:\n got %v\nwant %v", alpha, wantAlpha)
	}
	if !slices.Equal(beta, wantBeta) {
		t.Errorf("m_beta's audit log:\n got %v\nwant %v", beta, wantBeta)
	}
	if strings.Contains(e.logs.String(), k.Secret) {
		t.Error("the secret pasted into a path is in the logs")
	}
}
