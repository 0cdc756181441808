//go:build integration

package authorizer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
)

// propagationBound is how soon after a change's response every warm
// authorizer must decide by it.
const propagationBound = 2 * time.Second

// warmAuthorizers returns n authorizers with caches of their own, sharing
// e's store and following its change feed, with a cache TTL far longer than
// any test, so only the feed can tell them of a change.
func (e *env) warmAuthorizers(n int) []*authorizer.Handler {
	hs := make([]*authorizer.Handler, n)
	for i := range hs {
		engine := authz.New(e.store, e.secrets, e.store, authz.Options{CacheTTL: time.Hour, Feed: e.store})
		engine.Now = e.clock
		h := *e.h
		h.Engine = engine
		hs[i] = &h
	}
	return hs
}

// untilAll asks every authorizer for ev() until each answers want, and
// returns how long after start the slowest one took; it fails the test past
// propagationBound.
func (e *env) untilAll(hs []*authorizer.Handler, start time.Time, ev func() event, want outcome) time.Duration {
	e.t.Helper()
	pending := slices.Clone(hs)
	for {
		pending = slices.DeleteFunc(pending, func(h *authorizer.Handler) bool {
			o := e.authorizeWith(h, ev())
			return o.Status == want.Status && o.Code == want.Code
		})
		took := time.Since(start)
		if len(pending) == 0 {
			return took
		}
		if took > propagationBound {
			o := e.authorizeWith(pending[0], ev())
			e.t.Fatalf("%d of %d authorizers still answer %d %s after %v, want %d %s",
				len(pending), len(hs), o.Status, o.Code, took, want.Status, want.Code)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Every change to a key reaches every warm authorizer, each with its own
// cache, within two seconds of the change's response, whatever the cache TTL,
// for bearer and signed requests alike.
func TestChangesReachEveryWarmAuthorizer(t *testing.T) {
	ctx := context.Background()
	patch := func(p key.Patch) func(e *env, id string) error {
		return func(e *env, id string) error { _, err := e.svc.Update(ctx, actor, id, p); return err }
	}
	set := func(v any) key.Field[[]string] { return key.Field[[]string]{Set: true, Value: v.([]string)} }
	cases := []struct {
		name   string
		change func(e *env, id string) error
		signed bool
		want   outcome // for the old credential, after the change
		newOK  bool    // the reset's new secret must be allowed everywhere too
	}{
		{name: "reset without grace, bearer", change: func(e *env, id string) error {
			_, err := e.svc.Reset(ctx, actor, id, 0)
			return err
		}, want: outcome{Status: 401, Code: key.CodeNotFound}, newOK: true},
		{name: "reset without grace, signed", signed: true, change: func(e *env, id string) error {
			_, err := e.svc.Reset(ctx, actor, id, 0)
			return err
		}, want: outcome{Status: 401, Code: key.CodeSignatureInvalid}},
		{name: "revoke, bearer", change: func(e *env, id string) error { return e.svc.Revoke(ctx, actor, id) },
			want: outcome{Status: 403, Code: key.CodeRevoked}},
		{name: "revoke, signed", signed: true, change: func(e *env, id string) error { return e.svc.Revoke(ctx, actor, id) },
			want: outcome{Status: 401, Code: key.CodeSignatureInvalid}},
		{name: "disable", change: patch(key.Patch{Status: key.Field[string]{Set: true, Value: "disabled"}}),
			want: outcome{Status: 403, Code: key.CodeDisabled}},
		{name: "disable, signed", signed: true, change: patch(key.Patch{Status: key.Field[string]{Set: true, Value: "disabled"}}),
			want: outcome{Status: 403, Code: key.CodeDisabled}},
		{name: "allowlist", change: patch(key.Patch{AllowedIPs: set([]string{"198.51.100.0/24"})}),
			want: outcome{Status: 403, Code: key.CodeIPNotAllowed}},
		{name: "scopes", change: patch(key.Patch{Scopes: set([]string{"payments:read"})}),
			want: outcome{Status: 403, Code: key.CodeInsufficientScope}},
		{name: "auth modes", change: patch(key.Patch{AuthModes: set([]string{"hmac"})}),
			want: outcome{Status: 403, Code: key.CodeModeNotAllowed}},
	}
	var took []time.Duration
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			hs := e.warmAuthorizers(3)
			id, sk := e.newKey(key.NewParams{})
			ev := func() event { return e.event("http-bearer.json").bearer(sk) }
			if c.signed {
				ev = func() event { return e.event("http-hmac.json").sign(t, id, sk, e.clock(), nil) }
			}
			e.untilAll(hs, time.Now(), ev, outcome{Status: 200, Code: key.CodeValid}) // warm: key and secret cached
			if err := c.change(e, id); err != nil {
				t.Fatal(err)
			}
			took = append(took, e.untilAll(hs, time.Now(), ev, c.want))
		})
	}

	t.Run("enable", func(t *testing.T) {
		e := newEnv(t, authz.Options{})
		hs := e.warmAuthorizers(3)
		id, sk := e.newKey(key.NewParams{})
		ev := func() event { return e.event("http-bearer.json").bearer(sk) }
		if _, err := e.svc.Update(ctx, actor, id, key.Patch{Status: key.Field[string]{Set: true, Value: "disabled"}}); err != nil {
			t.Fatal(err)
		}
		e.untilAll(hs, time.Now(), ev, outcome{Status: 403, Code: key.CodeDisabled})
		if _, err := e.svc.Update(ctx, actor, id, key.Patch{Status: key.Field[string]{Set: true, Value: "active"}}); err != nil {
			t.Fatal(err)
		}
		took = append(took, e.untilAll(hs, time.Now(), ev, outcome{Status: 200, Code: key.CodeValid}))
	})

	t.Run("reset's new secret, at once", func(t *testing.T) {
		e := newEnv(t, authz.Options{})
		hs := e.warmAuthorizers(3)
		id, sk := e.newKey(key.NewParams{})
		e.untilAll(hs, time.Now(), func() event { return e.event("http-bearer.json").bearer(sk) }, outcome{Status: 200, Code: key.CodeValid})
		r, err := e.svc.Reset(ctx, actor, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		e.secretsSeen = append(e.secretsSeen, r.Secret)
		// A secret a cached key does not know makes an authorizer read the
		// key again: no wait for the feed, however young the cached copy.
		for i, h := range hs {
			if o := e.authorizeWith(h, e.event("http-bearer.json").bearer(r.Secret)); o.Status != 200 {
				t.Fatalf("authorizer %d refused the new secret at once: %d %s", i, o.Status, o.Code)
			}
		}
	})

	t.Run("expiry moved closer", func(t *testing.T) {
		e := newEnv(t, authz.Options{})
		hs := e.warmAuthorizers(3)
		id, sk := e.newKey(key.NewParams{})
		ev := func() event { return e.event("http-bearer.json").bearer(sk) }
		e.untilAll(hs, time.Now(), ev, outcome{Status: 200, Code: key.CodeValid})
		at := e.clock().Add(time.Minute)
		if _, err := e.svc.Update(ctx, actor, id, key.Patch{ExpiresAt: key.Field[*time.Time]{Set: true, Value: &at}}); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		e.advance(time.Minute) // the new expiry has passed; the job has not run
		took = append(took, e.untilAll(hs, start, ev, outcome{Status: 403, Code: key.CodeExpired}))
	})

	slices.Sort(took)
	t.Logf("propagation to the slowest of 3 authorizers over %d changes: min %v, median %v, max %v",
		len(took), took[0], took[len(took)/2], took[len(took)-1])
}
