//go:build integration

package secret_test

import (
	"errors"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/testenv"
)

// The operator's rotation rotates at once and is refused while a re-wrap is
// pending; the schedule's waits for the KEK's age and skips a pending
// re-wrap; neither touches a deployment on the per-key store.
func TestRotateKEKOnRequestAndSchedule(t *testing.T) {
	ctx := testenv.Context(t)
	s := newEnvelope(t)
	perKey, _ := newStore(t)
	c := secret.NewChain(s.env, perKey)
	id, v := "ck_test_"+uuid(t)[:8], uuid(t)
	if err := c.Create(ctx, id, v, "before-rotation"); err != nil {
		t.Fatal(err)
	}
	first, _, err := s.env.Keyring().Current(ctx)
	if err != nil {
		t.Fatal(err)
	}

	r, err := c.RotateKEK(ctx, 24*time.Hour)
	if err != nil || r.Rotated || r.Requested != secret.RotateOnSchedule || r.Skipped == "" || r.From != first {
		t.Fatalf("scheduled rotation of a new KEK = %+v, %v; want skipped, not due", r, err)
	}
	r, err = c.RotateKEK(ctx, 0)
	if err != nil || !r.Rotated || r.Requested != secret.RotateOnRequest || r.From != first || r.To == "" || r.To == first {
		t.Fatalf("requested rotation = %+v, %v", r, err)
	}
	if cur, _, err := s.env.Keyring().Current(ctx); err != nil || cur != r.To {
		t.Fatalf("current KEK %s, %v; want the new %s", cur, err, r.To)
	}
	if _, err := c.RotateKEK(ctx, 0); !errors.Is(err, secret.ErrRewrapPending) {
		t.Fatalf("a second request before the re-wrap = %v, want ErrRewrapPending", err)
	}
	// A tiny age makes the schedule due, but the re-wrap is still pending.
	if r, err := c.RotateKEK(ctx, time.Nanosecond); err != nil || r.Rotated || r.Skipped == "" {
		t.Fatalf("scheduled rotation during a re-wrap = %+v, %v; want skipped", r, err)
	}
	if got, err := c.Get(ctx, id, v); err != nil || got != "before-rotation" {
		t.Fatalf("Get after rotation = %q, %v", got, err)
	}
	c.RewrapMargin = 0
	rewrapped, retired := 0, false
	for range 3 { // the lifecycle job's runs: the one after the last re-wrap retires
		st, err := c.Upkeep(ctx)
		if err != nil {
			t.Fatal(err)
		}
		rewrapped += st.Rewrap.Rewrapped
		if retired = st.Rewrap.Retired; retired {
			break
		}
	}
	if rewrapped != 1 || !retired {
		t.Fatalf("upkeep re-wrapped %d, retired %v; want the one ciphertext, and the old KEK retired", rewrapped, retired)
	}
	r, err = c.RotateKEK(ctx, time.Nanosecond)
	if err != nil || !r.Rotated {
		t.Fatalf("scheduled rotation once due and re-wrapped = %+v, %v", r, err)
	}
	if got, err := c.Get(ctx, id, v); err != nil || got != "before-rotation" {
		t.Fatalf("Get after the second rotation = %q, %v", got, err)
	}

	sm := secret.NewChain(perKey, s.env)
	if _, err := sm.RotateKEK(ctx, 0); !errors.Is(err, secret.ErrNoEnvelope) {
		t.Errorf("requested rotation on the per-key store = %v, want ErrNoEnvelope", err)
	}
	if r, err := sm.RotateKEK(ctx, time.Nanosecond); err != nil || r.Rotated || r.Skipped == "" {
		t.Errorf("scheduled rotation on the per-key store = %+v, %v; want skipped", r, err)
	}
}

// Both stores list each secret with the time of its last write.
func TestListDated(t *testing.T) {
	ctx := testenv.Context(t)
	perKey, _ := newStore(t)
	stores := map[string]secret.Backend{"secretsmanager": perKey, "envelope": newEnvelope(t).env}
	for name, st := range stores {
		t.Run(name, func(t *testing.T) {
			before := time.Now().Add(-2 * time.Second) // moto's clock is this machine's, in whole seconds
			made := map[string]bool{}
			for range 3 {
				id := "ck_test_" + uuid(t)[:8]
				if err := st.Create(ctx, id, uuid(t), "v"); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = st.Delete(ctx, id) })
				made[id] = true
			}
			after := time.Now().Add(2 * time.Second)
			cursor, pages := "", 0
			for {
				page, next, err := st.ListDated(ctx, cursor, 2)
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, l := range page {
					if !made[l.Name] {
						continue
					}
					if l.Written.Before(before) || l.Written.After(after) {
						t.Errorf("%s written %v, want between %v and %v", l.Name, l.Written, before, after)
					}
					delete(made, l.Name)
				}
				if next == "" || pages > 10 {
					break
				}
				cursor = next
			}
			if len(made) > 0 {
				t.Errorf("not listed: %v", made)
			}
		})
	}
}
