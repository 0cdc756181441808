//go:build integration

package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

func init() {
	for route, file := range map[string]string{
		"POST /v1/webhooks":                                     "create",
		"GET /v1/webhooks":                                      "list",
		"GET /v1/webhooks/{id}":                                 "get",
		"PATCH /v1/webhooks/{id}":                               "patch",
		"DELETE /v1/webhooks/{id}":                              "delete",
		"POST /v1/webhooks/{id}/rotate-secret":                  "rotate-secret",
		"GET /v1/webhooks/{id}/deliveries":                      "deliveries",
		"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry": "retry",
		"POST /v1/webhooks/{id}/test":                           "test",
	} {
		functionOf[route] = "webhooks"
		golden[route] = "webhooks/" + file + ".json"
	}
}

// hookEnv is an env with webhooks: the endpoint service, a delivery worker
// on the env's clock, and receivers on 127.0.0.1 (allowed unless private
// endpoints are refused).
type hookEnv struct {
	*env
	worker *delivery.Worker
}

func newHookEnv(t *testing.T, allowPrivate bool) *hookEnv {
	e := newEnv(t)
	log := e.api.Log
	sender := &webhook.Sender{AllowPrivate: allowPrivate, Timeout: 2 * time.Second}
	w := delivery.New(e.store, e.secrets, sender, log)
	w.Now = e.clock.Now
	w.Rand = func() float64 { return 0.5 } // no jitter
	svc := webhooksvc.New(e.store, e.secrets, webhooksvc.URLs{Sender: sender}, log)
	svc.Now = e.clock.Now
	svc.Sender = w // test and retry send at once
	e.api.Webhooks = svc
	return &hookEnv{env: e, worker: w}
}

// receiver is a webhook endpoint on 127.0.0.1 that answers from a script
// and records what it got.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	got    []received
	answer func(n int) int // status for the n-th request (from 0)
}

type received struct {
	Header http.Header
	Body   []byte
}

func newReceiver(t *testing.T, answer func(n int) int) *receiver {
	r := &receiver{answer: answer}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		n := len(r.got)
		r.got = append(r.got, received{req.Header.Clone(), body})
		r.mu.Unlock()
		w.WriteHeader(r.answer(n))
		fmt.Fprintf(w, "answer %d", n)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func ok200(int) int { return 200 }

// register creates an endpoint and returns its ID and signing secret.
func (e *hookEnv) register(url string, types ...string) (string, string) {
	e.t.Helper()
	body := map[string]any{"url": url}
	if types != nil {
		body["event_types"] = types
	}
	b, _ := json.Marshal(body)
	resp := e.do(req{route: "POST /v1/webhooks", body: string(b)})
	if resp.Status != 201 {
		e.t.Fatalf("register: %d %s", resp.Status, resp.Body)
	}
	m := resp.json(e.t)
	secret := m["signing_secret"].(string)
	e.seen.Store(secret, true)
	return m["endpoint"].(map[string]any)["id"].(string), secret
}

func (e *hookEnv) sweep() delivery.Stats {
	e.t.Helper()
	st, err := e.worker.Sweep(context.Background())
	if err != nil {
		e.t.Fatalf("sweep: %v", err)
	}
	return st
}

// doPath sends r with extra path parameters.
func (e *hookEnv) doPath(r req, params map[string]string) response {
	e.t.Helper()
	ev := e.event(r)
	for k, v := range params {
		ev.PathParameters[k] = v
	}
	resp, err := e.invoke("webhooks", ev)
	if err != nil {
		e.t.Fatalf("%s: %v", r.route, err)
	}
	return response{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
}

func verifier(t *testing.T, secret string) *standardwebhooks.Webhook {
	t.Helper()
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return wh
}

func eventType(t *testing.T, body []byte) string {
	t.Helper()
	var p struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatalf("payload is not JSON: %q", body)
	}
	return p.Type
}

// Register a receiver; create, reset and revoke a key; receive exactly
// those three events, each verified by the Standard Webhooks library.
func TestWebhookEndToEnd(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	id, secret := e.register(rcv.URL+"/hooks", "key.*")
	other := newReceiver(t, ok200)
	e.register(other.URL, "key.revoked") // another endpoint, one event

	k := e.create(`{"name":"checkout","environment":"test","scopes":["payments:read"]}`)
	if r := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: `{"grace_period_seconds":60}`}); r.Status != 200 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	e.seen.Store(e.do(req{route: "GET /v1/keys/{id}", id: k.ID}).Body, false)
	if r := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}); r.Status != 204 {
		t.Fatalf("revoke: %d %s", r.Status, r.Body)
	}
	st := e.sweep()
	if st.Events != 3 || st.Attempts != 4 || st.Errors != 0 {
		t.Errorf("sweep = %+v, want 3 events, 4 attempts", st)
	}
	if st := e.sweep(); st.Events+st.Attempts != 0 {
		t.Errorf("second sweep = %+v, want nothing left", st)
	}

	got := rcv.received()
	var types []string
	wh := verifier(t, secret)
	for _, g := range got {
		if err := wh.Verify(g.Body, g.Header); err != nil {
			t.Errorf("%s: signature does not verify: %v", eventType(t, g.Body), err)
		}
		if strings.Contains(string(g.Body), "sk_") {
			t.Errorf("payload carries a secret: %s", g.Body)
		}
		if g.Header.Get("Content-Type") != "application/json" || !strings.HasPrefix(g.Header.Get("webhook-id"), "msg_") {
			t.Errorf("headers = %v", g.Header)
		}
		types = append(types, eventType(t, g.Body))
	}
	slices.Sort(types)
	if want := []string{"key.created", "key.reset", "key.revoked"}; !slices.Equal(types, want) {
		t.Errorf("received %v, want %v", types, want)
	}
	if o := other.received(); len(o) != 1 || eventType(t, o[0].Body) != "key.revoked" {
		t.Errorf("the key.revoked-only endpoint received %d deliveries", len(o))
	}
	// The same event has the same webhook-id at every endpoint.
	var revokedID string
	for _, g := range got {
		if eventType(t, g.Body) == "key.revoked" {
			revokedID = g.Header.Get("webhook-id")
		}
	}
	if o := other.received(); len(o) == 1 && o[0].Header.Get("webhook-id") != revokedID {
		t.Errorf("webhook-id differs between endpoints: %s vs %s", o[0].Header.Get("webhook-id"), revokedID)
	}

	resp := e.do(req{route: "GET /v1/webhooks/{id}/deliveries", id: id, query: map[string]string{}})
	var list struct {
		Data []api.DeliveryView `json:"data"`
	}
	if resp.Status != 200 || json.Unmarshal([]byte(resp.Body), &list) != nil || len(list.Data) != 3 {
		t.Fatalf("deliveries: %d %s", resp.Status, resp.Body)
	}
	for _, d := range list.Data {
		if d.Status != "succeeded" || len(d.Attempts) != 1 || d.Attempts[0].ResponseStatus != 200 || d.NextAttemptAt != nil {
			t.Errorf("delivery %+v", d)
		}
	}
}

// During a rotation's overlap both secrets sign; after it only the new one.
func TestWebhookRotationOverlap(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	id, old := e.register(rcv.URL)
	resp := e.do(req{route: "POST /v1/webhooks/{id}/rotate-secret", id: id, body: `{"overlap_seconds":3600}`})
	if resp.Status != 200 {
		t.Fatalf("rotate: %d %s", resp.Status, resp.Body)
	}
	m := resp.json(t)
	fresh := m["signing_secret"].(string)
	e.seen.Store(fresh, true)
	if fresh == old || m["endpoint"].(map[string]any)["secret_rotation_ends_at"] == nil {
		t.Fatalf("rotate answered %s", resp.Body)
	}

	test := func() received {
		t.Helper()
		if r := e.do(req{route: "POST /v1/webhooks/{id}/test", id: id}); r.Status != 202 {
			t.Fatalf("test: %d %s", r.Status, r.Body)
		}
		got := rcv.received()
		return got[len(got)-1]
	}
	during := test()
	if n := len(strings.Fields(during.Header.Get("webhook-signature"))); n != 2 {
		t.Errorf("signatures during the overlap = %d, want 2", n)
	}
	for name, s := range map[string]string{"old": old, "new": fresh} {
		if err := verifier(t, s).VerifyIgnoringTimestamp(during.Body, during.Header); err != nil {
			t.Errorf("during the overlap the %s secret does not verify: %v", name, err)
		}
	}
	if eventType(t, during.Body) != "webhook.test" {
		t.Errorf("test event type = %s", eventType(t, during.Body))
	}

	e.clock.Advance(time.Hour + time.Second)
	after := test()
	if n := len(strings.Fields(after.Header.Get("webhook-signature"))); n != 1 {
		t.Errorf("signatures after the overlap = %d, want 1", n)
	}
	if err := verifier(t, fresh).VerifyIgnoringTimestamp(after.Body, after.Header); err != nil {
		t.Errorf("after the overlap the new secret does not verify: %v", err)
	}
	if err := verifier(t, old).VerifyIgnoringTimestamp(after.Body, after.Header); err == nil {
		t.Error("after the overlap the old secret still verifies")
	}
	if ts := after.Header.Get("webhook-timestamp"); ts != fmt.Sprint(e.clock.Now().Unix()) {
		t.Errorf("webhook-timestamp = %s, want the attempt's time %d", ts, e.clock.Now().Unix())
	}
}

// A receiver that fails twice then succeeds gets the same webhook-id three
// times, on the retry schedule, and every attempt is logged.
func TestWebhookRetriesUntilSuccess(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, func(n int) int { return map[bool]int{true: 500, false: 200}[n < 2] })
	id, _ := e.register(rcv.URL, "key.created")
	e.create(`{"name":"checkout","environment":"test"}`)

	e.sweep()
	if n := len(rcv.received()); n != 1 {
		t.Fatalf("after the first sweep: %d requests", n)
	}
	e.sweep() // not due yet: nothing sent
	if n := len(rcv.received()); n != 1 {
		t.Fatalf("a retry went out before it was due: %d requests", n)
	}
	e.clock.Advance(6 * time.Second) // the schedule's 5 s, plus jitter
	e.sweep()
	e.clock.Advance(6 * time.Minute) // then 5 min
	e.sweep()
	got := rcv.received()
	if len(got) != 3 {
		t.Fatalf("requests = %d, want 3", len(got))
	}
	for _, g := range got[1:] {
		if g.Header.Get("webhook-id") != got[0].Header.Get("webhook-id") {
			t.Errorf("webhook-id changed across retries")
		}
	}
	resp := e.do(req{route: "GET /v1/webhooks/{id}/deliveries", id: id, query: map[string]string{}})
	var list struct {
		Data []api.DeliveryView `json:"data"`
	}
	if err := json.Unmarshal([]byte(resp.Body), &list); err != nil || len(list.Data) != 1 {
		t.Fatalf("deliveries: %s", resp.Body)
	}
	d := list.Data[0]
	var statuses []int
	for _, a := range d.Attempts {
		statuses = append(statuses, a.ResponseStatus)
		if a.At.IsZero() || a.ResponseBody == "" {
			t.Errorf("attempt not fully logged: %+v", a)
		}
	}
	if d.Status != "succeeded" || !slices.Equal(statuses, []int{500, 500, 200}) || d.ID != got[0].Header.Get("webhook-id") {
		t.Errorf("delivery = %s %v %s", d.Status, statuses, d.ID)
	}
}

// 410 disables the endpoint; a redirect is not followed; a retry of a
// delivery sends the same webhook-id again.
func TestWebhookGoneRedirectAndRetry(t *testing.T) {
	e := newHookEnv(t, true)
	gone := newReceiver(t, func(int) int { return 410 })
	goneID, _ := e.register(gone.URL)
	target := newReceiver(t, ok200)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer redirect.Close()
	redirID, _ := e.register(redirect.URL)
	e.create(`{"name":"checkout","environment":"test"}`)
	e.sweep()

	m := e.do(req{route: "GET /v1/webhooks/{id}", id: goneID}).json(t)
	if m["status"] != "disabled" || m["disabled_reason"] != "gone" {
		t.Errorf("after a 410 the endpoint is %v (%v)", m["status"], m["disabled_reason"])
	}
	if r := e.do(req{route: "POST /v1/webhooks/{id}/test", id: goneID}); r.Status != 409 {
		t.Errorf("test on a disabled endpoint = %d", r.Status)
	}
	if n := len(target.received()); n != 0 {
		t.Errorf("the redirect was followed: its target got %d requests", n)
	}
	var ds struct {
		Data []api.DeliveryView `json:"data"`
	}
	json.Unmarshal([]byte(e.do(req{route: "GET /v1/webhooks/{id}/deliveries", id: redirID, query: map[string]string{}}).Body), &ds)
	if len(ds.Data) != 1 || ds.Data[0].Status != "pending" || ds.Data[0].Attempts[0].ResponseStatus != 302 || ds.Data[0].NextAttemptAt == nil {
		t.Fatalf("redirected delivery = %+v", ds.Data)
	}

	// Retry now, with the same webhook-id; a succeeded delivery may be sent again too.
	ok := newReceiver(t, ok200)
	e.do(req{route: "PATCH /v1/webhooks/{id}", id: redirID, body: fmt.Sprintf(`{"url":%q}`, ok.URL)})
	r := e.doPath(req{route: "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", id: redirID, body: "-"},
		map[string]string{"delivery_id": ds.Data[0].ID})
	var d api.DeliveryView
	if r.Status != 202 || json.Unmarshal([]byte(r.Body), &d) != nil || d.Status != "succeeded" || len(d.Attempts) != 2 {
		t.Fatalf("retry: %d %s", r.Status, r.Body)
	}
	if got := ok.received(); len(got) != 1 || got[0].Header.Get("webhook-id") != ds.Data[0].ID {
		t.Errorf("retry did not resend the same webhook-id")
	}
	r = e.doPath(req{route: "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", id: redirID, body: "-"},
		map[string]string{"delivery_id": "msg_000000000000000000000000000"})
	if r.Status != 404 {
		t.Errorf("retry of an unknown delivery = %d", r.Status)
	}
}

// Endpoints that are, or resolve to, private addresses are refused when
// private endpoints are not allowed.
func TestWebhookRefusesPrivateEndpoints(t *testing.T) {
	e := newHookEnv(t, false)
	for _, url := range []string{
		"https://127.0.0.1/hooks", "https://10.0.0.1/hooks", "https://169.254.169.254/latest/meta-data",
		"https://[::ffff:127.0.0.1]/hooks", "https://localhost/hooks", "http://example.com/hooks",
	} {
		b, _ := json.Marshal(map[string]string{"url": url})
		r := e.do(req{route: "POST /v1/webhooks", body: string(b)})
		if r.Status != 400 || r.errCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s", url, r.Status, r.Body)
		}
		if host := strings.Trim(strings.Split(strings.SplitN(url, "//", 2)[1], "/")[0], "[]"); strings.Contains(r.Body, host) {
			t.Errorf("%s: the message echoes the host: %s", url, r.Body)
		}
	}
}

// An event is delivered even when the worker fails between the change and
// the delivery: at fan-out, or after claiming a delivery.
func TestWebhookCrashLosesNoEvent(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	e.register(rcv.URL, "key.created")
	e.create(`{"name":"checkout","environment":"test"}`)

	e.ddb.FailNth("PutItem", 1) // the delivery's first write
	if st, _ := e.worker.Sweep(context.Background()); st.Errors == 0 {
		t.Fatalf("the injected failure did not happen: %+v", st)
	}
	if n := len(rcv.received()); n != 0 {
		t.Fatalf("delivered despite the failure: %d", n)
	}
	e.ddb.Reset()

	// A worker that claims the delivery and dies before sending: the claim
	// is a lease, so the delivery is due again once it ends.
	evs, err := e.store.PendingEvents(context.Background(), e.clock.Now(), 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("pending events = %d, %v", len(evs), err)
	}
	pending, err := e.worker.FanOut(context.Background(), &evs[0])
	if err != nil || len(pending) != 1 {
		t.Fatalf("fan-out: %d, %v", len(pending), err)
	}
	claimed := *pending[0]
	lease := e.clock.Now().Add(e.worker.Lease)
	claimed.NextAttemptAt = &lease
	if err := e.store.SaveDelivery(context.Background(), &claimed); err != nil {
		t.Fatal(err)
	}
	e.sweep()
	if n := len(rcv.received()); n != 0 {
		t.Fatalf("a leased delivery was sent: %d", n)
	}
	e.clock.Advance(e.worker.Lease + time.Second)
	e.sweep()
	if got := rcv.received(); len(got) != 1 || eventType(t, got[0].Body) != "key.created" {
		t.Fatalf("after the lease: %d deliveries", len(got))
	}
}

// Validation, roles and tenancy of the endpoint routes.
func TestWebhookRoutes(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	id, _ := e.register(rcv.URL)
	for name, body := range map[string]string{
		"unknown event type":   `{"url":"https://example.com/h","event_types":["key.sold"]}`,
		"empty event types":    `{"url":"https://example.com/h","event_types":[]}`,
		"missing url":          `{"event_types":["*"]}`,
		"not a url":            `{"url":"not a url"}`,
		"unknown field":        `{"url":"https://example.com/h","secret":"x"}`,
		"wrong type":           `{"url":42}`,
		"description too long": fmt.Sprintf(`{"url":"https://example.com/h","description":%q}`, strings.Repeat("x", 501)),
	} {
		if r := e.do(req{route: "POST /v1/webhooks", body: body}); r.Status != 400 {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	if r := e.do(req{route: "POST /v1/webhooks/{id}/rotate-secret", id: id, body: `{"overlap_seconds":604801}`}); r.Status != 400 {
		t.Errorf("overlap too long: %d", r.Status)
	}
	if r := e.do(req{route: "POST /v1/webhooks", role: "developer", body: `{"url":"https://example.com/h"}`}); r.Status != 403 {
		t.Errorf("developer create: %d", r.Status)
	}
	if r := e.do(req{route: "GET /v1/webhooks/{id}", id: id, role: "viewer"}); r.Status != 200 {
		t.Errorf("viewer get: %d", r.Status)
	}
	for _, route := range []string{"GET /v1/webhooks/{id}", "PATCH /v1/webhooks/{id}", "DELETE /v1/webhooks/{id}", "POST /v1/webhooks/{id}/test", "GET /v1/webhooks/{id}/deliveries"} {
		if r := e.do(req{route: route, id: id, merchant: "m_other", body: `{}`}); r.Status != 404 {
			t.Errorf("%s by another merchant: %d", route, r.Status)
		}
	}
	r := e.do(req{route: "PATCH /v1/webhooks/{id}", id: id, body: `{"status":"disabled","description":"paused"}`})
	if m := r.json(t); r.Status != 200 || m["status"] != "disabled" || m["disabled_reason"] != "manual" {
		t.Errorf("disable: %d %s", r.Status, r.Body)
	}
	for i := 0; i < 3; i++ {
		e.register(rcv.URL)
	}
	page := e.do(req{route: "GET /v1/webhooks", query: map[string]string{"limit": "2"}}).json(t)
	next, _ := page["next_cursor"].(string)
	if len(page["data"].([]any)) != 2 || next == "" {
		t.Fatalf("first page: %v", page)
	}
	page = e.do(req{route: "GET /v1/webhooks", query: map[string]string{"limit": "2", "cursor": next}}).json(t)
	if len(page["data"].([]any)) != 2 || page["next_cursor"] != nil {
		t.Errorf("second page: %v", page)
	}
	if r := e.do(req{route: "GET /v1/webhooks", merchant: "m_other", query: map[string]string{"cursor": next}}); r.Status != 400 {
		t.Errorf("another merchant's cursor: %d", r.Status)
	}
	if r := e.do(req{route: "DELETE /v1/webhooks/{id}", id: id}); r.Status != 204 {
		t.Errorf("delete: %d", r.Status)
	}
	if r := e.do(req{route: "GET /v1/webhooks/{id}", id: id}); r.Status != 404 {
		t.Errorf("get after delete: %d", r.Status)
	}
	audit := e.do(req{route: "GET /v1/audit", query: map[string]string{"limit": "100"}}).Body
	for _, action := range []string{"webhook.create", "webhook.update", "webhook.delete"} {
		if !strings.Contains(audit, `"action":"`+action+`"`) {
			t.Errorf("audit log has no %s", action)
		}
	}
	if strings.Contains(audit, "whsec_") {
		t.Error("a signing secret is in the audit log")
	}
	e.api.Webhooks.MaxPerMerchant = 3 // it has 3 left
	if r := e.do(req{route: "POST /v1/webhooks", body: fmt.Sprintf(`{"url":%q}`, rcv.URL)}); r.Status != 409 {
		t.Errorf("past the limit: %d %s", r.Status, r.Body)
	}
}

// A rotation overlap that has ended is closed by the scheduled job: the
// endpoint no longer names the old secret, and only the new one signs.
func TestWebhookOverlapClosed(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, ok200)
	id, _ := e.register(rcv.URL)
	if r := e.do(req{route: "POST /v1/webhooks/{id}/rotate-secret", id: id, body: `{"overlap_seconds":60}`}); r.Status != 200 {
		t.Fatalf("rotate: %d", r.Status)
	}
	ctx := context.Background()
	if n, err := e.api.Webhooks.CloseEndedOverlaps(ctx, e.clock.Now()); err != nil || n != 0 {
		t.Fatalf("before the end: closed %d, %v", n, err)
	}
	e.clock.Advance(61 * time.Second)
	if n, err := e.api.Webhooks.CloseEndedOverlaps(ctx, e.clock.Now()); err != nil || n != 1 {
		t.Fatalf("after the end: closed %d, %v", n, err)
	}
	ep, err := e.store.GetEndpoint(ctx, id)
	if err != nil || ep.PrevSecretVersionID != "" || ep.SecretRotationEndsAt != nil {
		t.Fatalf("endpoint after closing: %+v %v", ep, err)
	}
	if n, _ := e.api.Webhooks.CloseEndedOverlaps(ctx, e.clock.Now()); n != 0 {
		t.Errorf("a second run closed %d again", n)
	}
}

// An endpoint whose attempts have all failed for five days is disabled as
// failing; one success before then clears the streak.
func TestWebhookFailingEndpointDisabled(t *testing.T) {
	e := newHookEnv(t, true)
	var fail atomic.Bool
	fail.Store(true)
	rcv := newReceiver(t, func(int) int {
		if fail.Load() {
			return 503
		}
		return 200
	})
	id, _ := e.register(rcv.URL, "key.created")
	status := func() (string, any) {
		m := e.do(req{route: "GET /v1/webhooks/{id}", id: id}).json(t)
		return m["status"].(string), m["disabled_reason"]
	}
	e.create(`{"name":"a","environment":"test"}`)
	e.sweep()
	e.clock.Advance(4 * 24 * time.Hour)
	fail.Store(false)
	e.create(`{"name":"b","environment":"test"}`)
	e.sweep() // one success: the streak is over
	fail.Store(true)
	e.clock.Advance(2 * 24 * time.Hour)
	e.create(`{"name":"c","environment":"test"}`)
	e.sweep() // a new streak starts
	if s, _ := status(); s != "enabled" {
		t.Fatalf("disabled after a success reset the streak: %s", s)
	}
	e.clock.Advance(5*24*time.Hour + time.Minute)
	e.create(`{"name":"d","environment":"test"}`)
	e.sweep()
	if s, reason := status(); s != "disabled" || reason != "failing" {
		t.Fatalf("after five days of failures: %s (%v)", s, reason)
	}
	before := len(rcv.received())
	e.clock.Advance(time.Hour)
	e.sweep()
	if n := len(rcv.received()); n != before {
		t.Errorf("a disabled endpoint got %d more requests", n-before)
	}
}
