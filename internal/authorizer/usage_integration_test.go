//go:build integration

package authorizer_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
	"github.com/paykeys/paykeys/internal/usage"
)

// apiCall sends one management API request to the function serving route.
func apiCall(t *testing.T, h *api.API, function, route, id, body, merchant string, query map[string]string) (int, string) {
	t.Helper()
	req := apigw.Request{
		Version: "2.0", RouteKey: route, Body: body, QueryStringParameters: query,
		Headers: map[string]string{"content-type": "application/json"},
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey: route, RequestID: testenv.UniqueName(t, "req"),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{SourceIP: "198.51.100.23"},
		},
	}
	if id != "" {
		req.PathParameters = map[string]string{"id": id}
	}
	if merchant != "" {
		req.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{
				Claims: map[string]string{"sub": "user_1", "merchant_id": merchant, "role": "viewer"},
			},
		}
	}
	resp, err := h.Function(function)(context.Background(), req)
	if err != nil {
		t.Fatalf("%s: %v", route, err)
	}
	return resp.StatusCode, resp.Body
}

type usageResp struct {
	Data []struct {
		Date    string           `json:"date"`
		Allowed int64            `json:"allowed"`
		Denied  map[string]int64 `json:"denied"`
	} `json:"data"`
}

// The usage counters agree with a scripted sequence of decisions made by
// the real authorizer handler and by POST /v1/verify.
func TestUsageCountersMatchDecisions(t *testing.T) {
	e := newEnv(t, authz.Options{CacheTTL: -1})
	day1 := time.Now().UTC().Truncate(24 * time.Hour).Add(12 * time.Hour) // midday: no test step crosses midnight
	e.advance(day1.Sub(e.clock()))

	rec := usage.New(e.store, usage.Options{FlushInterval: time.Hour, Log: e.h.Log})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	e.h.Usage = rec
	h := &api.API{Keys: e.svc, Audit: e.store, Verifier: e.h.Engine, Usage: rec, Counters: e.store, Log: e.h.Log, Now: e.clock}

	id, sk := e.newKey(key.NewParams{Scopes: []string{"payments:read"}})
	otherID, _ := e.newKey(key.NewParams{}) // never used: must show no usage
	wrong := key.DefaultBrand.NewSecret(id) // well formed, names the key, but not its secret
	ghost := key.NewClientID(key.EnvTest)   // no key has it
	writesBefore := e.ddb.Calls("TransactWriteItems") + e.ddb.Calls("UpdateItem")

	get := func(name string) event { ev := e.event(name); ev.setMethod("GET"); return ev }
	expect := func(step string, ev event, status int, code key.Code) {
		t.Helper()
		if o := e.authorize(ev); o.Status != status || o.Code != code {
			t.Fatalf("%s: got %d %s, want %d %s", step, o.Status, o.Code, status, code)
		}
	}
	serviceVerify := func(step, body string, valid bool, code key.Code) {
		t.Helper()
		status, out := apiCall(t, h, "verify", "POST /v1/verify", "", body, "", nil)
		var r struct {
			Valid bool     `json:"valid"`
			Code  key.Code `json:"code"`
		}
		if status != 200 || json.Unmarshal([]byte(out), &r) != nil || r.Valid != valid || r.Code != code {
			t.Fatalf("%s: %d %s, want valid=%v %s", step, status, out, valid, code)
		}
	}

	// Day 1, through the authorizer.
	for range 6 {
		expect("bearer", get("http-bearer.json").bearer(sk), 200, key.CodeValid)
	}
	expect("bearer, REST", get("rest-bearer.json").bearer(sk), 200, key.CodeValid)
	for range 2 {
		expect("wrong secret", get("http-bearer.json").bearer(wrong), 401, key.CodeNotFound)
	}
	expect("write with a read-only key", e.event("http-bearer.json").bearer(sk), 403, key.CodeInsufficientScope)
	first := get("http-hmac.json").sign(t, id, sk, e.clock(), nil)
	expect("signed", first, 200, key.CodeValid)
	expect("signed, REST", get("rest-hmac.json").sign(t, id, sk, e.clock(), nil), 200, key.CodeValid)
	expect("replayed nonce", first, 401, key.CodeNonceReused)
	expect("signed with a wrong secret", get("http-hmac.json").sign(t, id, wrong, e.clock(), nil), 401, key.CodeSignatureInvalid)
	expect("stale timestamp", get("http-hmac.json").sign(t, id, sk, e.clock().Add(-400*time.Second), nil), 401, key.CodeTimestampWindow)
	// Counted nowhere: a client ID that names no key, and no client ID at all.
	expect("unknown key", get("http-bearer.json").bearer(key.DefaultBrand.NewSecret(ghost)), 401, key.CodeNotFound)
	expect("unknown client ID, signed", get("http-hmac.json").sign(t, ghost, sk, e.clock(), nil), 401, key.CodeNotFound)
	expect("malformed", get("http-bearer.json").bearer("paykeys_sk_test_nope"), 401, key.CodeMalformed)

	if n := e.ddb.Calls("TransactWriteItems") + e.ddb.Calls("UpdateItem") - writesBefore; n != 0 {
		t.Fatalf("%d usage writes during decisions: want none before a flush", n)
	}
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Day 1, a second later, through POST /v1/verify; a second flush adds up.
	e.advance(time.Second)
	serviceVerify("service verify", `{"secret":"`+sk+`","scope":"payments:read","ip":"203.0.113.5"}`, true, key.CodeValid)
	serviceVerify("service verify, wrong secret", `{"secret":"`+wrong+`"}`, false, key.CodeNotFound)
	serviceVerify("service verify, scope not granted", `{"secret":"`+sk+`","scope":"payments:write"}`, false, key.CodeInsufficientScope)
	serviceVerify("service verify, unknown key", `{"secret":"`+key.DefaultBrand.NewSecret(ghost)+`"}`, false, key.CodeNotFound)
	serviceVerify("service verify, malformed", `{"secret":"paykeys_sk_test_nope"}`, false, key.CodeMalformed)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	// Day 2: one more use, then the key is revoked and used again.
	e.advance(24 * time.Hour)
	lastUse := e.clock()
	ev := get("http-bearer.json").bearer(sk)
	ev.setSourceIP("192.0.2.99")
	expect("bearer, day 2", ev, 200, key.CodeValid)
	e.advance(time.Minute)
	if err := e.svc.Revoke(context.Background(), actor, id); err != nil {
		t.Fatal(err)
	}
	expect("revoked", get("http-bearer.json").bearer(sk), 403, key.CodeRevoked)
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}

	d1, d2 := day1.Format(store.DateLayout), day1.Add(24*time.Hour).Format(store.DateLayout)
	status, body := apiCall(t, h, "keys", "GET /v1/keys/{id}/usage", id, "", "m_1", map[string]string{"from": d1, "to": d2})
	if status != 200 {
		t.Fatalf("usage: %d %s", status, body)
	}
	var got usageResp
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		date    string
		allowed int64
		denied  map[string]int64
	}{
		{d1, 7 + 2 + 1, map[string]int64{
			"NOT_FOUND": 2 + 1, "INSUFFICIENT_SCOPE": 1 + 1, "NONCE_REUSED": 1, "SIGNATURE_INVALID": 1, "TIMESTAMP_OUT_OF_WINDOW": 1,
		}},
		{d2, 1, map[string]int64{"REVOKED": 1}},
	}
	if len(got.Data) != len(want) {
		t.Fatalf("usage = %s, want %d days", body, len(want))
	}
	for i, w := range want {
		g := got.Data[i]
		if g.Date != w.date || g.Allowed != w.allowed || !maps.Equal(g.Denied, w.denied) {
			t.Errorf("day %d = %+v, want %+v", i, g, w)
		}
	}

	// The default range is the last 30 days up to today (day 2).
	if status, def := apiCall(t, h, "keys", "GET /v1/keys/{id}/usage", id, "", "m_1", nil); status != 200 || def != body {
		t.Errorf("default range: %d %s, want %s", status, def, body)
	}
	// A key never used, and client IDs that name no key, have no usage.
	if status, b := apiCall(t, h, "keys", "GET /v1/keys/{id}/usage", otherID, "", "m_1", nil); status != 200 || b != `{"data":[]}` {
		t.Errorf("unused key: %d %s", status, b)
	}
	if days, err := e.store.ListUsage(context.Background(), ghost, d1, d2); err != nil || len(days) != 0 {
		t.Errorf("usage of a client ID with no key: %v %v", days, err)
	}
	if _, err := e.store.GetKey(context.Background(), ghost); err == nil {
		t.Error("a key item was made for an unknown client ID")
	}
	// Another merchant's key is not found; dates are checked.
	if status, b := apiCall(t, h, "keys", "GET /v1/keys/{id}/usage", id, "", "m_2", nil); status != 404 || !strings.Contains(b, `"not_found"`) {
		t.Errorf("another merchant: %d %s", status, b)
	}
	if status, b := apiCall(t, h, "keys", "GET /v1/keys/{id}/usage", id, "", "m_1", map[string]string{"from": d2, "to": d1}); status != 400 || !strings.Contains(b, `"invalid_request"`) {
		t.Errorf("from after to: %d %s", status, b)
	}

	// The last use is the last allowed decision, from its address; the
	// revoked attempt after it does not count as a use.
	k, err := e.store.GetKey(context.Background(), id)
	if err == nil {
		err = e.store.AttachLastUse(context.Background(), k)
	}
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(lastUse) || k.LastUsedIP != "192.0.2.99" {
		t.Errorf("last used %v from %q, want %v from 192.0.2.99", k.LastUsedAt, k.LastUsedIP, lastUse)
	}
	status, body = apiCall(t, h, "keys", "GET /v1/keys/{id}", id, "", "m_1", nil)
	var view map[string]any
	_ = json.Unmarshal([]byte(body), &view)
	if status != 200 || view["last_used_at"] != lastUse.Format(time.RFC3339) {
		t.Errorf("GET key: last_used_at = %v, want %s", view["last_used_at"], lastUse.Format(time.RFC3339))
	}
}

// The last use moves forward only, and service verify records the address
// the calling service named.
func TestLastUseFromServiceVerify(t *testing.T) {
	e := newEnv(t, authz.Options{CacheTTL: -1})
	rec := usage.New(e.store, usage.Options{FlushInterval: time.Hour, Log: e.h.Log})
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	e.h.Usage = rec
	h := &api.API{Keys: e.svc, Audit: e.store, Verifier: e.h.Engine, Usage: rec, Counters: e.store, Log: e.h.Log, Now: e.clock}
	id, sk := e.newKey(key.NewParams{})

	e.advance(time.Minute)
	at := e.clock()
	if status, b := apiCall(t, h, "verify", "POST /v1/verify", "", `{"secret":"`+sk+`","ip":"2001:db8::7"}`, "", nil); status != 200 || !strings.Contains(b, `"valid":true`) {
		t.Fatalf("service verify: %d %s", status, b)
	}
	// A decision that another container made earlier arrives later: it
	// must not move the last use back.
	rec.Record(authz.Decision{Code: key.CodeValid, Key: &key.Key{ID: id}, ClientID: id}, "192.0.2.1", at.Add(-time.Minute))
	if err := rec.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	other := usage.New(e.store, usage.Options{FlushInterval: time.Hour})
	other.Record(authz.Decision{Code: key.CodeValid, Key: &key.Key{ID: id}, ClientID: id}, "192.0.2.1", at.Add(-time.Minute))
	if err := other.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	k, err := e.store.GetKey(context.Background(), id)
	if err == nil {
		err = e.store.AttachLastUse(context.Background(), k)
	}
	if err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt == nil || !k.LastUsedAt.Equal(at) || k.LastUsedIP != "2001:db8::7" {
		t.Errorf("last used %v from %q, want %v from 2001:db8::7", k.LastUsedAt, k.LastUsedIP, at)
	}
}
