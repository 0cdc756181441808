//go:build integration

package authorizer_test

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/testenv"
)

// Switching the secret store, from one Secrets Manager secret per key to
// the envelope store and back, fails no request: while the lifecycle job
// moves the secrets in small pages, authorizers of the old configuration
// and of the new one (a deployment rolling out) decide HMAC-signed
// requests, which read every key's secret, and bearer requests, and keys
// are reset meanwhile. Afterwards the old store holds nothing.
func TestSecretStoreMigrationUnderTraffic(t *testing.T) {
	e := newEnv(t, authz.Options{CacheTTL: -1})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	prefix := testenv.UniqueName(t, "mig") + "/"
	perKey := secret.New(testenv.Secrets(t), prefix)
	envelope := secret.NewEnvelope(testenv.Dynamo(t), e.table, prefix, secret.NewKeyring(testenv.Secrets(t), testenv.UniqueName(t, "kek")))
	toEnvelope, toPerKey := secret.NewChain(envelope, perKey), secret.NewChain(perKey, envelope)
	handler := func(c *secret.Chain) *authorizer.Handler {
		engine := authz.New(e.store, c, e.store, authz.Options{CacheTTL: -1})
		engine.Now = e.clock
		return &authorizer.Handler{Engine: engine, Routes: e.h.Routes, Environment: key.EnvTest, Log: e.h.Log}
	}

	// Keys made on the per-key store; one of them revoked.
	type cred struct{ id, secret string }
	var mu sync.Mutex
	var keys []cred
	svc := keysvc.New(e.store, toPerKey, e.h.Log)
	svc.Now = e.clock
	for range 16 {
		c, err := svc.Create(ctx, actor, key.NewParams{Name: "k", Environment: key.EnvTest, Scopes: []string{"payments:read", "payments:write"}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.secretsSeen = append(e.secretsSeen, c.Secret)
		keys = append(keys, cred{c.Key.ID, c.Secret})
	}
	if err := svc.Revoke(ctx, actor, keys[0].id); err != nil {
		t.Fatal(err)
	}
	revoked := keys[0].id
	keys = keys[1:]

	for _, phase := range []struct {
		name     string
		from, to *secret.Chain
		old      secret.Backend
	}{
		{"to the envelope store", toPerKey, toEnvelope, perKey},
		{"back to Secrets Manager", toEnvelope, toPerKey, envelope},
	} {
		t.Run(phase.name, func(t *testing.T) {
			handlers := []*authorizer.Handler{handler(phase.from), handler(phase.to)}
			svc := keysvc.New(e.store, phase.to, e.h.Log)
			svc.Now = e.clock
			var requests, failed, nonceRetries atomic.Int64
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for w := range 4 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; ; i++ {
						select {
						case <-stop:
							return
						default:
						}
						mu.Lock()
						c := keys[rand.IntN(len(keys))]
						mu.Unlock()
						ev := e.event("http-hmac.json").sign(t, c.id, c.secret, e.clock(), nil)
						if i%4 == 0 {
							ev = e.event("http-bearer.json").bearer(c.secret)
						}
						requests.Add(1)
						o := e.authorizeWith(handlers[(w+i)%2], ev)
						if o.Status != 200 && o.Code == key.CodeNonceReused {
							// The nonce store's conditional write, retried by the
							// SDK after a timeout on a loaded machine, finds its own
							// first attempt: that is no secret-store failure.
							nonceRetries.Add(1)
							continue
						}
						if o.Status != 200 {
							failed.Add(1)
							t.Errorf("%s: status %d (%s, handler %d, request %d)", c.id, o.Status, o.Code, (w+i)%2, i)
						}
					}
				}()
			}
			// Resets go to the new store while the move runs: one per key
			// at most, with a grace period, so a request signed with the
			// secret just replaced still passes.
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < len(keys); i += 3 {
					mu.Lock()
					id := keys[i].id
					mu.Unlock()
					iss, err := svc.Reset(ctx, actor, id, time.Hour)
					if err != nil {
						t.Errorf("reset during the move: %v", err)
						return
					}
					mu.Lock()
					keys[i].secret = iss.Secret
					e.secretsSeen = append(e.secretsSeen, iss.Secret)
					mu.Unlock()
				}
			}()

			phase.to.UpkeepLimit = 3
			moved, before := 0, requests.Load()
			for run := 0; ; run++ {
				if run > 40 {
					t.Fatal("the move did not finish in 40 runs")
				}
				st, err := phase.to.Upkeep(ctx)
				if err != nil {
					t.Fatalf("upkeep run %d: %v", run, err)
				}
				moved += st.Moved
				if st.Moved == 0 && !st.Remaining {
					break
				}
				time.Sleep(50 * time.Millisecond) // let traffic run between pages
			}
			during := requests.Load() - before
			time.Sleep(200 * time.Millisecond)
			close(stop)
			wg.Wait()

			if n := requests.Load(); during < 20 || failed.Load() != 0 {
				t.Fatalf("%d requests (%d while secrets moved), %d failed; want at least 20 during the move and none failed", n, during, failed.Load())
			}
			t.Logf("%d secrets moved under %d requests (%d while they moved), 0 failed (%d nonce write retries)", moved, requests.Load(), during, nonceRetries.Load())
			if moved < len(keys)/2 {
				t.Errorf("moved %d secrets, want most of the %d keys' (the rest moved with their reset)", moved, len(keys))
			}
			if names, _, err := phase.old.List(ctx, "", 100); err != nil || len(names) != 0 {
				t.Fatalf("the old store still holds %v (%v)", names, err)
			}
			for _, c := range keys {
				for _, h := range handlers {
					if o := e.authorizeWith(h, e.event("http-hmac.json").sign(t, c.id, c.secret, e.clock(), nil)); o.Status != 200 {
						t.Errorf("%s after the move: %d", c.id, o.Status)
					}
				}
			}
			for _, s := range []secret.Backend{perKey, envelope} {
				if v, err := s.Versions(ctx, revoked); err == nil {
					t.Errorf("the revoked key's secret came back: %v", v)
				}
			}
		})
	}
}
