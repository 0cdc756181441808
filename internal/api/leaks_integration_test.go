//go:build integration

package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/leakreport"
)

// leakEnv is a hookEnv that takes leak reports signed by scanner, a key
// pair of the test's own, under the identifier "gh-test-1".
type leakEnv struct {
	*hookEnv
	scanner *ecdsa.PrivateKey
}

const leakKeyID = "gh-test-1"

func newLeakEnv(t *testing.T) *leakEnv {
	e := &leakEnv{hookEnv: newHookEnv(t, true)}
	e.scanner = newScannerKey(t)
	cfg, err := leakreport.KeyConfig(leakKeyID, &e.scanner.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if e.api.LeakKeys, err = leakreport.ParseKeys("[" + cfg + "]"); err != nil {
		t.Fatal(err)
	}
	e.api.Counters = e.store
	return e
}

func newScannerKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// report sends body to POST /v1/leaks signed by signer under keyID (no
// signature headers when signer is nil).
func (e *leakEnv) report(body string, keyID string, signer *ecdsa.PrivateKey) response {
	e.t.Helper()
	raw, err := os.ReadFile("../../events/keys/leaks.json")
	if err != nil {
		e.t.Fatal(err)
	}
	var ev apigw.Request
	if err := json.Unmarshal(raw, &ev); err != nil {
		e.t.Fatal(err)
	}
	ev.Body = body
	ev.RequestContext.RequestID = "req-" + key.NewID("r_")
	delete(ev.Headers, "github-public-key-identifier")
	delete(ev.Headers, "github-public-key-signature")
	if signer != nil {
		sig, err := leakreport.Sign(signer, []byte(body))
		if err != nil {
			e.t.Fatal(err)
		}
		ev.Headers["github-public-key-identifier"] = keyID
		ev.Headers["github-public-key-signature"] = sig
	}
	resp, err := e.invoke("keys", ev)
	if err != nil {
		e.t.Fatalf("leak report: handler returned an error: %v", err)
	}
	return response{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
}

func leakBody(t *testing.T, tokens ...string) string {
	t.Helper()
	entries := make([]leakreport.Entry, len(tokens))
	for i, tok := range tokens {
		entries[i] = leakreport.Entry{Token: tok, Type: "paykeys_secret", URL: "https://github.com/octo/app/blob/abc123/.env", Source: "content"}
	}
	b, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// labels returns the answer's labels, checking it echoes every token in order.
func labels(t *testing.T, r response, tokens ...string) []string {
	t.Helper()
	if r.Status != 200 {
		t.Fatalf("report: %d %s", r.Status, r.Body)
	}
	var answers []leakreport.Answer
	if err := json.Unmarshal([]byte(r.Body), &answers); err != nil || len(answers) != len(tokens) {
		t.Fatalf("answer %s: %v", r.Body, err)
	}
	out := make([]string, len(answers))
	for i, a := range answers {
		if a.TokenRaw != tokens[i] || a.TokenType != "paykeys_secret" {
			t.Errorf("answer %d = %+v, want token %q", i, a, tokens[i])
		}
		out[i] = string(a.Label)
	}
	return out
}

func (e *leakEnv) status(id string) string {
	e.t.Helper()
	r := e.do(req{route: "GET /v1/keys/{id}", id: id})
	if r.Status != 200 {
		e.t.Fatalf("get %s: %d %s", id, r.Status, r.Body)
	}
	return r.json(e.t)["status"].(string)
}

// leakAudits counts the audit records of the merchant by the leak reporter.
func (e *leakEnv) leakAudits() int {
	e.t.Helper()
	r := e.do(req{route: "GET /v1/audit", query: map[string]string{"limit": "100"}})
	var list struct {
		Data []struct {
			Actor    string `json:"actor"`
			Action   string `json:"action"`
			SourceIP string `json:"source_ip"`
		} `json:"data"`
	}
	if r.Status != 200 || json.Unmarshal([]byte(r.Body), &list) != nil {
		e.t.Fatalf("audit: %d %s", r.Status, r.Body)
	}
	n := 0
	for _, a := range list.Data {
		if a.Actor == "system:leak-report" {
			if a.Action != "key.leak" || a.SourceIP != "192.30.252.1" {
				e.t.Errorf("leak audit record %+v", a)
			}
			n++
		}
	}
	return n
}

// A signed report revokes a test key and disables a live key within the one
// request, labels every token, sends one key.leaked event per key with the
// URL and source, audits it as system:leak-report and counts it in usage;
// a repeated report changes nothing and sends nothing.
func TestLeakReport(t *testing.T) {
	e := newLeakEnv(t)
	rcv := newReceiver(t, ok200)
	_, signing := e.register(rcv.URL+"/hooks", "key.leaked")
	testKey := e.create(`{"name":"ci","environment":"test"}`)
	liveKey := e.create(`{"name":"checkout","environment":"live"}`)

	bad := []byte(testKey.Secret)
	bad[40] ^= 1 // a typo: the checksum fails
	tokens := []string{
		testKey.Secret, liveKey.Secret,
		string(bad), // not ours: no lookup
		key.DefaultBrand.NewSecret(key.NewClientID(key.EnvLive)), // well formed, no such key
		"ghp_notours0123456789",
	}
	body := leakBody(t, tokens...)
	gets := e.ddb.Calls("GetItem")
	got := labels(t, e.report(body, leakKeyID, e.scanner), tokens...)
	want := []string{"true_positive", "true_positive", "false_positive", "false_positive", "false_positive"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("labels = %v, want %v", got, want)
	}
	// Two keys and one stranger looked up once each, plus the rate limiter.
	if n := e.ddb.Calls("GetItem") - gets; n != 4 {
		t.Errorf("the report made %d GetItem calls, want 4", n)
	}

	// In effect before the answer: no sweep, no wait.
	if s := e.status(testKey.ID); s != "revoked" {
		t.Errorf("the leaked test key is %s, want revoked", s)
	}
	if s := e.status(liveKey.ID); s != "disabled" {
		t.Errorf("the leaked live key is %s, want disabled (the default policy)", s)
	}
	if _, s := e.verify(liveKey.ID, liveKey.Secret); s != "disabled" {
		t.Errorf("verify says the live key is %s", s)
	}
	if v, _ := e.verify(testKey.ID, testKey.Secret); v {
		t.Error("the revoked test key's secret still verifies")
	}

	st := e.sweep()
	events := rcv.received()
	if st.Errors != 0 || len(events) != 2 {
		t.Fatalf("sweep %+v delivered %d key.leaked events, want 2", st, len(events))
	}
	wh := verifier(t, signing)
	actions := map[string]string{}
	for _, g := range events {
		if err := wh.Verify(g.Body, g.Header); err != nil {
			t.Errorf("signature: %v", err)
		}
		var p struct {
			Type string `json:"type"`
			Data struct {
				Key    struct{ ID, Status string } `json:"key"`
				URL    string                      `json:"url"`
				Source string                      `json:"source"`
				Action string                      `json:"action"`
			} `json:"data"`
		}
		if err := json.Unmarshal(g.Body, &p); err != nil || p.Type != "key.leaked" ||
			p.Data.URL != "https://github.com/octo/app/blob/abc123/.env" || p.Data.Source != "content" {
			t.Errorf("event %s: %v", g.Body, err)
		}
		if strings.Contains(string(g.Body), "_sk_") {
			t.Errorf("the event carries a secret: %s", g.Body)
		}
		actions[p.Data.Key.ID] = p.Data.Action + "/" + p.Data.Key.Status
	}
	if actions[testKey.ID] != "revoked/revoked" || actions[liveKey.ID] != "disabled/disabled" {
		t.Errorf("actions = %v", actions)
	}
	if n := e.leakAudits(); n != 2 {
		t.Errorf("%d audit records by system:leak-report, want 2", n)
	}
	usage := e.do(req{route: "GET /v1/keys/{id}/usage", id: liveKey.ID, query: map[string]string{}})
	if usage.Status != 200 || !strings.Contains(usage.Body, `"LEAKED":1`) {
		t.Errorf("usage after the leak: %d %s", usage.Status, usage.Body)
	}

	// The same report again, even after the merchant enabled the live key:
	// the same answer, no change, no event, no record.
	if r := e.do(req{route: "PATCH /v1/keys/{id}", id: liveKey.ID, body: `{"status":"active"}`}); r.Status != 200 {
		t.Fatalf("enable: %d %s", r.Status, r.Body)
	}
	e.sweep()
	before := len(rcv.received())
	again := labels(t, e.report(body, leakKeyID, e.scanner), tokens...)
	if strings.Join(again, " ") != strings.Join(want, " ") {
		t.Errorf("labels again = %v", again)
	}
	if s := e.status(liveKey.ID); s != "active" {
		t.Errorf("a repeated report moved the live key to %s", s)
	}
	e.sweep()
	if n := len(rcv.received()) - before; n != 0 {
		t.Errorf("a repeated report sent %d events", n)
	}
	if n := e.leakAudits(); n != 2 {
		t.Errorf("%d audit records by system:leak-report after a repeat, want 2", n)
	}
	if u := e.do(req{route: "GET /v1/keys/{id}/usage", id: liveKey.ID, query: map[string]string{}}); !strings.Contains(u.Body, `"LEAKED":1`) {
		t.Errorf("usage after a repeat: %s", u.Body)
	}
}

// An unsigned report, one signed by another key, one whose body was changed
// after signing, or one naming an unknown key is 401 and looks nothing up.
func TestLeakReportSignature(t *testing.T) {
	e := newLeakEnv(t)
	k := e.create(`{"name":"ci","environment":"test"}`)
	body := leakBody(t, k.Secret)
	tampered := func() response {
		sig, _ := leakreport.Sign(e.scanner, []byte(body))
		raw, _ := os.ReadFile("../../events/keys/leaks.json")
		var ev apigw.Request
		_ = json.Unmarshal(raw, &ev)
		ev.Body = strings.Replace(body, "content", "commit", 1)
		ev.Headers["github-public-key-identifier"], ev.Headers["github-public-key-signature"] = leakKeyID, sig
		resp, err := e.invoke("keys", ev)
		if err != nil {
			t.Fatal(err)
		}
		return response{Status: resp.StatusCode, Body: resp.Body}
	}
	for _, c := range []struct {
		name string
		send func() response
	}{
		{"unsigned", func() response { return e.report(body, "", nil) }},
		{"signed by another key", func() response { return e.report(body, leakKeyID, newScannerKey(t)) }},
		{"unknown key identifier", func() response { return e.report(body, "gh-test-2", e.scanner) }},
		{"body changed after signing", tampered},
	} {
		t.Run(c.name, func(t *testing.T) {
			calls := e.ddb.Calls("GetItem") + e.ddb.Calls("TransactWriteItems") + e.ddb.Calls("PutItem") + e.ddb.Calls("UpdateItem")
			r := c.send()
			if r.Status != 401 || r.errCode(t) != "unauthenticated" || strings.Contains(r.Body, k.Secret) {
				t.Fatalf("%d %s", r.Status, r.Body)
			}
			if n := e.ddb.Calls("GetItem") + e.ddb.Calls("TransactWriteItems") + e.ddb.Calls("PutItem") + e.ddb.Calls("UpdateItem") - calls; n != 0 {
				t.Errorf("a refused report made %d DynamoDB calls", n)
			}
		})
	}
	if s := e.status(k.ID); s != "active" {
		t.Errorf("after refused reports the key is %s", s)
	}
	if n := e.leakAudits(); n != 0 {
		t.Errorf("refused reports left %d audit records", n)
	}
}

// Limits: more than 100 tokens is 400, a body over 64 KiB 413, a body that is
// not an array 400; past the rate limit 429 with Retry-After.
func TestLeakReportLimits(t *testing.T) {
	e := newLeakEnv(t)
	many := make([]string, leakreport.MaxEntries+1)
	for i := range many {
		many[i] = "ghp_x"
	}
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"101 tokens", leakBody(t, many...), 400},
		{"over 64 KiB", leakBody(t, strings.Repeat("x", 70<<10)), 413},
		{"an object", `{"token":"x"}`, 400},
		{"null", `null`, 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			if r := e.report(c.body, leakKeyID, e.scanner); r.Status != c.status {
				t.Fatalf("%d %s, want %d", r.Status, r.Body, c.status)
			}
		})
	}
	e.svc.LeakLimit = 2
	body := leakBody(t, "ghp_x")
	for i := range 2 {
		if r := e.report(body, leakKeyID, e.scanner); r.Status != 200 {
			t.Fatalf("report %d: %d %s", i, r.Status, r.Body)
		}
	}
	if r := e.report(body, leakKeyID, e.scanner); r.Status != 429 || r.Headers["Retry-After"] == "" {
		t.Fatalf("past the limit: %d %v %s", r.Status, r.Headers, r.Body)
	}
}

// With LEAK_POLICY=revoke a live key is revoked; a leaked previous secret
// ends its grace and leaves the current secret working.
func TestLeakReportPolicyAndPreviousSecret(t *testing.T) {
	e := newLeakEnv(t)
	e.svc.LeakPolicy = key.LeakRevoke
	live := e.create(`{"name":"checkout","environment":"live"}`)
	rotated := e.create(`{"name":"rotated","environment":"live"}`)
	r := e.do(req{route: "POST /v1/keys/{id}/reset", id: rotated.ID, body: `{"grace_period_seconds":3600}`})
	if r.Status != 200 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	current := r.json(t)["secret"].(string)
	e.seen.Store(current, true)
	if v, _ := e.verify(rotated.ID, rotated.Secret); !v {
		t.Fatal("the previous secret should work inside its grace period")
	}

	tokens := []string{live.Secret, rotated.Secret}
	if got := labels(t, e.report(leakBody(t, tokens...), leakKeyID, e.scanner), tokens...); strings.Join(got, " ") != "true_positive true_positive" {
		t.Fatalf("labels = %v", got)
	}
	if s := e.status(live.ID); s != "revoked" {
		t.Errorf("under LEAK_POLICY=revoke the live key is %s", s)
	}
	if v, _ := e.verify(rotated.ID, rotated.Secret); v {
		t.Error("the leaked previous secret still works")
	}
	if v, s := e.verify(rotated.ID, current); !v || s != "active" {
		t.Errorf("the current secret: valid %v, status %s; want it untouched", v, s)
	}
	names, err := listSecrets(t, e.env)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if strings.HasSuffix(n, live.ID) {
			t.Errorf("the revoked key's secret %s is not destroyed", n)
		}
	}
}
