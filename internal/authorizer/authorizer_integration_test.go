//go:build integration

package authorizer_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
)

var formats = []struct{ name, bearer, hmac string }{
	{"rest", "rest-bearer.json", "rest-hmac.json"},
	{"http", "http-bearer.json", "http-hmac.json"},
}

// Every decision code, in both event formats, gets the answer the README's authorizer table says.
func TestDecisionCodes(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			past := e.clock().Add(time.Hour)
			id, sk := e.newKey(key.NewParams{AllowedIPs: []string{"192.0.2.0/24", "2001:db8::/32"}})
			readOnlyID, readOnly := e.newKey(key.NewParams{Scopes: []string{"payments:read"}})
			_, live := e.newKey(key.NewParams{Environment: key.EnvLive})
			hmacOnlyID, hmacOnly := e.newKey(key.NewParams{AuthModes: []string{"hmac"}})
			bearerOnlyID, bearerOnly := e.newKey(key.NewParams{AuthModes: []string{"bearer"}})
			disabledID, disabled := e.newKey(key.NewParams{})
			if _, err := e.svc.Update(context.Background(), actor, disabledID, key.Patch{Status: key.Field[string]{Set: true, Value: "disabled"}}); err != nil {
				t.Fatal(err)
			}
			expiringID, expiring := e.newKey(key.NewParams{ExpiresAt: &past})
			_ = expiringID
			unknown := key.DefaultBrand.NewSecret(key.NewClientID(key.EnvTest))
			wrong := key.DefaultBrand.NewSecret(id) // well formed, names the key, but not its secret
			now := e.clock()
			body := []byte(`{"amount":1000,"currency":"eur"}`)
			signed := func(clientID, secret string) event {
				return e.event(f.hmac).sign(t, clientID, secret, now, body)
			}
			cases := []struct {
				name   string
				ev     func() event
				before func()
				status int
				code   key.Code
			}{
				{"valid bearer", func() event { return e.event(f.bearer).bearer(sk) }, nil, 200, key.CodeValid},
				{"valid hmac", func() event { return signed(id, sk) }, nil, 200, key.CodeValid},
				{"no credential", func() event {
					ev := e.event(f.bearer)
					ev.setHeader("X-API-Key", "")
					ev.setHeader("Authorization", "")
					return ev
				}, nil, 401, key.CodeMalformed},
				{"garbage secret", func() event { return e.event(f.bearer).bearer("paykeys_sk_test_nope") }, nil, 401, key.CodeMalformed},
				{"checksum typo", func() event { return e.event(f.bearer).bearer(sk[:20] + flip(sk[20]) + sk[21:]) }, nil, 401, key.CodeMalformed},
				{"bearer and hmac", func() event { ev := signed(id, sk); ev.setHeader("X-API-Key", sk); return ev }, nil, 401, key.CodeMalformed},
				{"unknown key", func() event { return e.event(f.bearer).bearer(unknown) }, nil, 401, key.CodeNotFound},
				{"wrong secret", func() event { return e.event(f.bearer).bearer(wrong) }, nil, 401, key.CodeNotFound},
				{"unknown client id signed", func() event { return signed(key.NewClientID(key.EnvTest), sk) }, nil, 401, key.CodeNotFound},
				{"signed with wrong secret", func() event { return signed(id, wrong) }, nil, 401, key.CodeSignatureInvalid},
				{"tampered path", func() event { ev := signed(id, sk); ev.setPath("/demo/refunds"); return ev }, nil, 401, key.CodeSignatureInvalid},
				{"tampered method", func() event { ev := signed(id, sk); ev.setMethod("PUT"); return ev }, nil, 401, key.CodeSignatureInvalid},
				{"tampered query", func() event { return tamperQuery(signed(id, sk)) }, nil, 401, key.CodeSignatureInvalid},
				{"tampered body hash", func() event {
					ev := signed(id, sk)
					ev.setHeader("X-Content-SHA256", strings.Repeat("0", 64))
					return ev
				}, nil, 401, key.CodeSignatureInvalid},
				{"timestamp 301 s old", func() event { return e.event(f.hmac).sign(t, id, sk, now.Add(-301*time.Second), body) }, nil, 401, key.CodeTimestampWindow},
				{"timestamp 301 s ahead", func() event { return e.event(f.hmac).sign(t, id, sk, now.Add(301*time.Second), body) }, nil, 401, key.CodeTimestampWindow},
				{"timestamp 300 s old", func() event { return e.event(f.hmac).sign(t, id, sk, now.Add(-300*time.Second), body) }, nil, 200, key.CodeValid},
				{"mode not allowed (bearer)", func() event { return e.event(f.bearer).bearer(hmacOnly) }, nil, 403, key.CodeModeNotAllowed},
				{"mode not allowed (hmac)", func() event { return signed(bearerOnlyID, bearerOnly) }, nil, 403, key.CodeModeNotAllowed},
				{"hmac-only key signs", func() event { return signed(hmacOnlyID, hmacOnly) }, nil, 200, key.CodeValid},
				{"disabled", func() event { return e.event(f.bearer).bearer(disabled) }, nil, 403, key.CodeDisabled},
				{"live key on the test API", func() event { return e.event(f.bearer).bearer(live) }, nil, 403, key.CodeEnvMismatch},
				{"ip outside the allowlist", func() event { ev := e.event(f.bearer).bearer(sk); ev.setSourceIP("198.51.100.7"); return ev }, nil, 403, key.CodeIPNotAllowed},
				{"forwarded-for is ignored", func() event {
					ev := e.event(f.bearer).bearer(sk)
					ev.setSourceIP("198.51.100.7")
					ev.setHeader("X-Forwarded-For", "192.0.2.10")
					return ev
				}, nil, 403, key.CodeIPNotAllowed},
				{"ipv6 inside the allowlist", func() event { ev := e.event(f.bearer).bearer(sk); ev.setSourceIP("2001:db8::9"); return ev }, nil, 200, key.CodeValid},
				{"missing scope", func() event { return e.event(f.bearer).bearer(readOnly) }, nil, 403, key.CodeInsufficientScope},
				{"read scope on GET", func() event { ev := e.event(f.bearer).bearer(readOnly); ev.setMethod("GET"); return ev }, nil, 200, key.CodeValid},
				{"route with no scope configured", func() event { ev := e.event(f.bearer).bearer(sk); ev.setPath("/admin/x"); return ev }, nil, 403, key.CodeInsufficientScope},
				{"expired", func() event { return e.event(f.bearer).bearer(expiring) }, func() { e.advance(2 * time.Hour) }, 403, key.CodeExpired},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					if c.before != nil {
						c.before()
					}
					o := e.authorize(c.ev())
					if o.Status != c.status || o.Code != c.code {
						t.Fatalf("got %d %s, want %d %s", o.Status, o.Code, c.status, c.code)
					}
				})
			}
			_ = readOnlyID
		})
	}
}

func flip(c byte) string {
	if c == 'a' {
		return "b"
	}
	return "a"
}

func tamperQuery(ev event) event {
	if ev.rest() {
		ev["multiValueQueryStringParameters"].(map[string]any)["currency"] = []any{"usd"}
	} else {
		ev["rawQueryString"] = "expand=customer&currency=usd"
	}
	return ev
}

// On Allow the context carries every field the README lists, all strings.
func TestAllowContext(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			id, sk := e.newKey(key.NewParams{Currency: key.CurrencyCrypto})
			for mode, ev := range map[string]event{
				"bearer": e.event(f.bearer).bearer(sk),
				"hmac":   e.event(f.hmac).sign(t, id, sk, e.clock(), nil),
			} {
				o := e.authorize(ev)
				want := map[string]any{
					"merchant_id": "m_1", "key_id": id, "environment": "test", "currency": "crypto",
					"scopes": "payments:read payments:write", "secret_version": "1", "auth_mode": mode,
				}
				if o.Status != 200 || fmt.Sprint(o.Context) != fmt.Sprint(want) {
					t.Fatalf("%s: %d %v, want %v", mode, o.Status, o.Context, want)
				}
			}
		})
	}
}

// A nonce is single use: the same signed request twice is a replay.
func TestNonceReplay(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			id, sk := e.newKey(key.NewParams{})
			ev := e.event(f.hmac).sign(t, id, sk, e.clock(), nil)
			if o := e.authorize(ev); o.Status != 200 {
				t.Fatalf("first use: %d %s", o.Status, o.Code)
			}
			if o := e.authorize(ev); o.Status != 401 || o.Code != key.CodeNonceReused {
				t.Fatalf("replay: %d %s", o.Status, o.Code)
			}
			// A request that fails its signature does not spend the nonce.
			ev2 := e.event(f.hmac).sign(t, id, sk, e.clock(), nil)
			good := ev2.header("X-Signature")
			ev2.setHeader("X-Signature", "v1="+strings.Repeat("ab", 32))
			if o := e.authorize(ev2); o.Code != key.CodeSignatureInvalid {
				t.Fatalf("bad signature: %s", o.Code)
			}
			ev2.setHeader("X-Signature", good)
			if o := e.authorize(ev2); o.Status != 200 {
				t.Fatalf("nonce spent by a forged request: %d %s", o.Status, o.Code)
			}
		})
	}
}

// During a grace period the previous secret works, bearer and signed, and
// reports its own version; several v1= signatures are accepted.
func TestGraceAndSeveralSignatures(t *testing.T) {
	e := newEnv(t, authz.Options{CacheTTL: -1})
	id, old := e.newKey(key.NewParams{})
	issued, err := e.svc.Reset(context.Background(), actor, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cur := issued.Secret
	e.secretsSeen = append(e.secretsSeen, cur)
	for _, c := range []struct {
		secret  string
		version string
	}{{old, "1"}, {cur, "2"}} {
		if o := e.authorize(e.event("rest-bearer.json").bearer(c.secret)); o.Status != 200 || o.Context["secret_version"] != c.version {
			t.Fatalf("bearer with version %s: %d %v", c.version, o.Status, o.Context)
		}
		if o := e.authorize(e.event("http-hmac.json").sign(t, id, c.secret, e.clock(), nil)); o.Status != 200 || o.Context["secret_version"] != c.version {
			t.Fatalf("hmac with version %s: %d %v", c.version, o.Status, o.Context)
		}
	}
	// A client in the middle of a rotation sends both signatures.
	ev := e.event("http-hmac.json").sign(t, id, old, e.clock(), nil)
	oldSig := ev.header("X-Signature")
	ev2 := e.event("http-hmac.json").sign(t, id, cur, e.clock(), nil)
	ev2.setHeader("X-Signature", oldSig+", "+ev2.header("X-Signature"))
	if o := e.authorize(ev2); o.Status != 200 {
		t.Fatalf("two signatures: %d %s", o.Status, o.Code)
	}
	e.advance(time.Hour)
	if o := e.authorize(e.event("rest-bearer.json").bearer(old)); o.Status != 401 {
		t.Fatalf("old secret after its grace: %d %s", o.Status, o.Code)
	}
	if o := e.authorize(e.event("http-hmac.json").sign(t, id, old, e.clock(), nil)); o.Status != 401 || o.Code != key.CodeSignatureInvalid {
		t.Fatalf("old secret signing after its grace: %d %s", o.Status, o.Code)
	}
}

// Without a change feed, revocation reaches a warm authorizer when its cache
// TTL ends: the TTL is the bound of last resort.
func TestRevocationAfterCacheTTL(t *testing.T) {
	const ttl = 300 * time.Millisecond
	e := newEnv(t, authz.Options{CacheTTL: ttl})
	id, sk := e.newKey(key.NewParams{})
	if o := e.authorize(e.event("rest-bearer.json").bearer(sk)); o.Status != 200 {
		t.Fatalf("before revoke: %d", o.Status)
	}
	if err := e.svc.Revoke(context.Background(), actor, id); err != nil {
		t.Fatal(err)
	}
	if o := e.authorize(e.event("rest-bearer.json").bearer(sk)); o.Status != 200 {
		t.Fatalf("without a feed, the cached copy should still answer inside its TTL: %d %s", o.Status, o.Code)
	}
	e.advance(ttl)
	if o := e.authorize(e.event("rest-bearer.json").bearer(sk)); o.Status != 403 || o.Code != key.CodeRevoked {
		t.Fatalf("revoked key still %d %s after the cache TTL", o.Status, o.Code)
	}
	// A revoked key's secret is destroyed: a signed request cannot be proven.
	if o := e.authorize(e.event("http-hmac.json").sign(t, id, sk, e.clock(), nil)); o.Status != 401 {
		t.Fatalf("revoked key signing: %d %s", o.Status, o.Code)
	}
}

// A store that cannot be reached is an error (500), never an Allow; nor is
// a secret store outage on the signed path.
func TestStoreOutage(t *testing.T) {
	e := newEnv(t, authz.Options{})
	id, sk := e.newKey(key.NewParams{})
	e.ddb.FailAll("GetItem")
	if o := e.authorize(e.event("rest-bearer.json").bearer(sk)); o.Status != 500 {
		t.Fatalf("DynamoDB down, bearer: %d %s", o.Status, o.Code)
	}
	e.ddb.Reset()
	e.sm.FailAll("GetSecretValue")
	if o := e.authorize(e.event("http-hmac.json").sign(t, id, sk, e.clock(), nil)); o.Status != 500 {
		t.Fatalf("Secrets Manager down, hmac: %d %s", o.Status, o.Code)
	}
	e.sm.Reset()
	e.ddb.FailAll("PutItem")
	if o := e.authorize(e.event("http-hmac.json").sign(t, id, sk, e.clock(), nil)); o.Status != 500 {
		t.Fatalf("nonce write failing: %d %s", o.Status, o.Code)
	}
}

// On a miss, bearer costs exactly one GetItem and no Secrets Manager call;
// HMAC adds one conditional PutItem and reads the secret once per container.
func TestStoreCallsOnMiss(t *testing.T) {
	e := newEnv(t, authz.Options{})
	_, sk := e.newKey(key.NewParams{})
	e.ddb.Reset()
	e.sm.Reset()
	e.authorize(e.event("rest-bearer.json").bearer(sk))
	if g, p, s := e.ddb.Calls("GetItem"), e.ddb.Calls("PutItem"), e.sm.Calls("GetSecretValue"); g != 1 || p != 0 || s != 0 {
		t.Fatalf("bearer miss: %d GetItem, %d PutItem, %d Secrets Manager reads; want 1, 0, 0", g, p, s)
	}
	for range 5 {
		e.authorize(e.event("rest-bearer.json").bearer(sk))
	}
	if g := e.ddb.Calls("GetItem"); g != 1 {
		t.Fatalf("bearer hits read the store: %d GetItem", g)
	}
	e2 := newEnv(t, authz.Options{})
	id, sk := e2.newKey(key.NewParams{})
	e2.ddb.Reset()
	e2.sm.Reset()
	if o := e2.authorize(e2.event("http-hmac.json").sign(t, id, sk, e2.clock(), nil)); o.Status != 200 {
		t.Fatalf("hmac: %d %s", o.Status, o.Code)
	}
	if g, p, s := e2.ddb.Calls("GetItem"), e2.ddb.Calls("PutItem"), e2.sm.Calls("GetSecretValue"); g != 1 || p != 1 || s != 1 {
		t.Fatalf("hmac miss: %d GetItem, %d PutItem, %d secret reads; want 1, 1, 1", g, p, s)
	}
	for range 5 {
		e2.authorize(e2.event("http-hmac.json").sign(t, id, sk, e2.clock(), nil))
	}
	if g, p, s := e2.ddb.Calls("GetItem"), e2.ddb.Calls("PutItem"), e2.sm.Calls("GetSecretValue"); g != 1 || p != 6 || s != 1 {
		t.Fatalf("hmac hits: %d GetItem, %d PutItem, %d secret reads; want 1, 6, 1", g, p, s)
	}
	// Unknown keys are negatively cached: a flood of one garbage key is one read.
	e2.ddb.Reset()
	garbage := key.DefaultBrand.NewSecret(key.NewClientID(key.EnvTest))
	for range 50 {
		if o := e2.authorize(e2.event("rest-bearer.json").bearer(garbage)); o.Status != 401 {
			t.Fatalf("garbage: %d", o.Status)
		}
	}
	if g := e2.ddb.Calls("GetItem"); g != 1 {
		t.Fatalf("50 requests with one unknown key made %d reads, want 1", g)
	}
	// Malformed secrets never reach the store at all.
	e2.ddb.Reset()
	for range 50 {
		e2.authorize(e2.event("rest-bearer.json").bearer("paykeys_sk_test_" + strings.Repeat("x", 61)))
	}
	if g := e2.ddb.Calls("GetItem"); g != 0 {
		t.Fatalf("malformed secrets made %d reads", g)
	}
}

// Unknown or broken events are denied, never allowed.
func TestUnknownEvents(t *testing.T) {
	e := newEnv(t, authz.Options{})
	for _, raw := range []string{`{}`, `[]`, `not json`, `{"type":"TOKEN","methodArn":"arn:x","authorizationToken":"paykeys_sk_test_x"}`, `{"version":"1.0","type":"REQUEST"}`} {
		if _, err := e.h.Handle(context.Background(), []byte(raw)); err == nil || err.Error() != "Unauthorized" {
			t.Errorf("%s: err = %v, want Unauthorized", raw, err)
		}
	}
}

var _ = key.Actor{}
