package keysvc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv/mem"
)

// These tests run the service against stores in memory, so that `go test`
// alone proves the order of its writes; the integration tests run the same
// operations against DynamoDB Local and the Secrets Manager emulator.

var errDown = errors.New("store down")

var actor = key.Actor{Subject: "user_1", MerchantID: "m_1", Role: "admin"}

func newService(t *testing.T) (*Service, *mem.Store, *mem.Secrets) {
	t.Helper()
	st, sec := mem.NewStore(), mem.NewSecrets()
	s := New(st, sec, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.CleanupTimeout = time.Second
	return s, st, sec
}

func params() key.NewParams {
	return key.NewParams{Name: "checkout", Environment: key.EnvTest, Currency: key.CurrencyFiat}
}

// A key record is written only once its secret is stored, and it names
// exactly that secret.
func TestCreateStoresTheSecretBeforeTheKey(t *testing.T) {
	s, st, sec := newService(t)
	var secret string
	st.Check = func(k *key.Key) {
		for v, val := range sec.Versions[k.ID] {
			if v == k.SecretVersionID && string(key.Hash(val)) == string(k.SecretHash) {
				secret = val
			}
		}
		if secret == "" {
			t.Errorf("key %s became visible before its secret was stored", k.ID)
		}
	}
	c, err := s.Create(context.Background(), actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Secret == "" || c.Secret != secret {
		t.Fatalf("returned secret is not the stored one")
	}
	if _, err := st.GetKey(context.Background(), c.Key.ID); err != nil {
		t.Fatalf("key not stored: %v", err)
	}
	if len(st.Audit) != 1 || st.Audit[0].Action != "key.create" || st.Audit[0].Outcome != key.OutcomeSuccess {
		t.Fatalf("audit = %+v", st.Audit)
	}
}

// Whatever fails, a create leaves no key record, and no secret unless its
// deletion failed too (then the reconciliation sweep finds a secret that
// names no key).
func TestCreateFailureLeavesNothingBehind(t *testing.T) {
	cases := []struct {
		name          string
		storeFail     error
		secretFail    map[string]error
		wantErr       error
		secretLeft    bool
		wantSecretOps []string
	}{
		{name: "secret write fails", secretFail: map[string]error{"Create": errDown}, wantErr: errDown,
			wantSecretOps: []string{"Create", "Delete"}},
		{name: "key write fails", storeFail: errDown, wantErr: errDown, wantSecretOps: []string{"Create", "Delete"}},
		{name: "merchant at its limit", storeFail: store.ErrLimitReached, wantErr: key.ErrConflict,
			wantSecretOps: []string{"Create", "Delete"}},
		{name: "key write and cleanup fail", storeFail: errDown, secretFail: map[string]error{"Delete": errDown},
			wantErr: errDown, secretLeft: true, wantSecretOps: []string{"Create", "Delete"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, st, sec := newService(t)
			if c.storeFail != nil {
				st.Fail["CreateKey"] = c.storeFail
			}
			for k, v := range c.secretFail {
				sec.Fail[k] = v
			}
			out, err := s.Create(context.Background(), actor, params(), nil)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if out.Secret != "" || out.Key.ID != "" {
				t.Fatalf("a failed create returned %+v", out)
			}
			if len(st.Keys) != 0 || st.Writes != 0 || len(st.Audit) != 0 {
				t.Fatalf("a failed create left %d keys, %d audit records", len(st.Keys), len(st.Audit))
			}
			if left := len(sec.Versions) > 0; left != c.secretLeft {
				t.Fatalf("secret left behind: %v, want %v", left, c.secretLeft)
			}
			if !slices.Equal(sec.Calls, c.wantSecretOps) {
				t.Fatalf("secret store calls %v, want %v", sec.Calls, c.wantSecretOps)
			}
		})
	}
}

// Concurrent creates of one merchant make CreateKey stale; the service tries
// again with the same key and secret, and gives up with a conflict.
func TestCreateRetriesStaleCounts(t *testing.T) {
	s, st, sec := newService(t)
	tries := 0
	st.Check = func(*key.Key) { tries++ }
	st.Fail["CreateKey"] = store.ErrStale
	s.MaxAttempts = 3
	if _, err := s.Create(context.Background(), actor, params(), nil); !errors.Is(err, key.ErrConflict) {
		t.Fatalf("err = %v, want a conflict", err)
	}
	if len(sec.Versions) != 0 {
		t.Fatal("the secret of a create that gave up was left behind")
	}
	delete(st.Fail, "CreateKey")
	if tries != 0 {
		t.Fatalf("check ran %d times for failed writes", tries)
	}
}

// An idempotent create's replay returns the same key and secret while the
// secret is current, audits the replay, and refuses once the key was reset.
func TestCreateReplay(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	idem := &Idempotency{Key: "idem-1", RequestHash: []byte("h1")}
	first, err := s.Create(ctx, actor, params(), idem)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Create(ctx, actor, params(), idem)
	if err != nil || !again.Replay || again.Secret != first.Secret || again.Key.ID != first.Key.ID {
		t.Fatalf("replay = %+v, %v", again, err)
	}
	if n := len(st.Keys); n != 1 {
		t.Fatalf("%d keys after a replay", n)
	}
	if last := st.Audit[len(st.Audit)-1]; last.Outcome != key.OutcomeReplayed {
		t.Fatalf("replay not audited: %+v", last)
	}
	if _, err := s.Create(ctx, actor, params(), &Idempotency{Key: "idem-1", RequestHash: []byte("other")}); !errors.Is(err, key.ErrConflict) {
		t.Fatalf("same Idempotency-Key, other body: %v", err)
	}
	if _, err := s.Reset(ctx, actor, first.Key.ID, 0); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Create(ctx, actor, params(), idem); !errors.Is(err, key.ErrConflict) || c.Secret != "" {
		t.Fatalf("replay after a reset: %+v, %v", c, err)
	}
}

// A reset stages the new secret before the record names it, and moves the
// labels only after the record is committed.
func TestResetStagesBeforeCommitting(t *testing.T) {
	s, st, sec := newService(t)
	ctx := context.Background()
	c, err := s.Create(ctx, actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sec.Calls = nil
	st.Check = func(k *key.Key) {
		found := false
		for _, val := range sec.Versions[k.ID] {
			found = found || string(key.Hash(val)) == string(k.SecretHash)
		}
		if !found || sec.Current[k.ID] == k.SecretVersionID {
			t.Errorf("record committed with staged=%v, labels already moved=%v", found, sec.Current[k.ID] == k.SecretVersionID)
		}
	}
	issued, err := s.Reset(ctx, actor, c.Key.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sec.Calls, []string{"Stage", "Promote"}) {
		t.Fatalf("secret store calls %v", sec.Calls)
	}
	k, _ := st.GetKey(ctx, c.Key.ID)
	if !sec.Has(k.ID, k.SecretVersionID, issued.Secret) || sec.Current[k.ID] != k.SecretVersionID {
		t.Fatal("the record does not name the promoted new secret")
	}
	now := time.Now()
	if k.MatchSecret(key.Hash(c.Secret), now) == key.NoMatch || k.MatchSecret(key.Hash(issued.Secret), now) == key.NoMatch {
		t.Fatal("old secret not in its grace period, or new secret not current")
	}
}

// A reset that fails before its commit leaves the old secret current and
// the record unchanged; one whose label move fails still succeeds, since the
// record alone decides which secret works.
func TestResetFailures(t *testing.T) {
	cases := []struct {
		name      string
		secret    string // the secret store call that fails
		store     bool   // UpdateKey fails
		wantErr   bool
		wantMoved bool
	}{
		{name: "stage fails", secret: "Stage", wantErr: true},
		{name: "commit fails", store: true, wantErr: true},
		{name: "label move fails", secret: "Promote", wantMoved: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, st, sec := newService(t)
			ctx := context.Background()
			created, err := s.Create(ctx, actor, params(), nil)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := st.GetKey(ctx, created.Key.ID)
			if c.secret != "" {
				sec.Fail[c.secret] = errDown
			}
			if c.store {
				st.Fail["UpdateKey"] = errDown
			}
			issued, err := s.Reset(ctx, actor, created.Key.ID, 0)
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			after, _ := st.GetKey(ctx, created.Key.ID)
			if moved := after.SecretVersionID != before.SecretVersionID; moved != c.wantMoved {
				t.Fatalf("record moved to a new secret: %v, want %v", moved, c.wantMoved)
			}
			if c.wantErr {
				if issued.Secret != "" {
					t.Fatal("a failed reset returned a secret")
				}
				if after.MatchSecret(key.Hash(created.Secret), time.Now()) != key.MatchCurrent {
					t.Fatal("the old secret stopped working after a failed reset")
				}
				return
			}
			if after.MatchSecret(key.Hash(issued.Secret), time.Now()) != key.MatchCurrent {
				t.Fatal("the new secret does not work")
			}
		})
	}
}

// A reset retries on a concurrent change and gives up with a conflict.
func TestResetRetriesConcurrentChanges(t *testing.T) {
	s, st, _ := newService(t)
	ctx := context.Background()
	created, err := s.Create(ctx, actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Stale = 2
	if _, err := s.Reset(ctx, actor, created.Key.ID, 0); err != nil {
		t.Fatalf("reset after two stale writes: %v", err)
	}
	st.Stale = s.MaxAttempts
	if _, err := s.Reset(ctx, actor, created.Key.ID, 0); !errors.Is(err, key.ErrConflict) {
		t.Fatalf("reset that never wins: %v, want a conflict", err)
	}
}

// Revoke commits the record before destroying the secret; a failed
// destruction is finished by the next DELETE.
func TestRevokeCommitsThenDestroys(t *testing.T) {
	s, st, sec := newService(t)
	ctx := context.Background()
	created, err := s.Create(ctx, actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Check = func(k *key.Key) {
		if len(sec.Versions[k.ID]) == 0 {
			t.Error("secret destroyed before the revoke was committed")
		}
	}
	sec.Fail["Delete"] = errDown
	if err := s.Revoke(ctx, actor, created.Key.ID); !errors.Is(err, errDown) {
		t.Fatalf("revoke with the secret store down: %v", err)
	}
	if k, _ := st.GetKey(ctx, created.Key.ID); k.Status != key.StatusRevoked {
		t.Fatalf("status %s after a revoke whose destruction failed", k.Status)
	}
	delete(sec.Fail, "Delete")
	writes := st.Writes
	if err := s.Revoke(ctx, actor, created.Key.ID); err != nil {
		t.Fatal(err)
	}
	if len(sec.Versions) != 0 {
		t.Fatal("the second revoke did not destroy the secret")
	}
	if st.Writes != writes {
		t.Fatal("revoking a revoked key wrote its record again")
	}
}

// Another merchant's key, or an ID that is not a key's, is not found, and
// nothing is read from or written to the secret store for it.
func TestOtherMerchantsKeysAreNotFound(t *testing.T) {
	s, _, sec := newService(t)
	ctx := context.Background()
	created, err := s.Create(ctx, actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sec.Calls = nil
	other := key.Actor{Subject: "user_2", MerchantID: "m_2", Role: "admin"}
	for _, id := range []string{created.Key.ID, "not-a-key"} {
		if _, err := s.Get(ctx, other, id); !errors.Is(err, key.ErrNotFound) {
			t.Errorf("get %s: %v", id, err)
		}
		if _, err := s.Reset(ctx, other, id, 0); !errors.Is(err, key.ErrNotFound) {
			t.Errorf("reset %s: %v", id, err)
		}
		if err := s.Revoke(ctx, other, id); !errors.Is(err, key.ErrNotFound) {
			t.Errorf("revoke %s: %v", id, err)
		}
		if _, err := s.Verify(ctx, other, id, created.Secret); !errors.Is(err, key.ErrNotFound) {
			t.Errorf("verify %s: %v", id, err)
		}
	}
	if len(sec.Calls) != 0 {
		t.Fatalf("secret store called for another merchant's key: %v", sec.Calls)
	}
}

func TestVerify(t *testing.T) {
	s, _, _ := newService(t)
	ctx := context.Background()
	created, err := s.Create(ctx, actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Create(ctx, actor, params(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		secret string
		want   bool
	}{{created.Secret, true}, {other.Secret, false}, {"garbage", false}} {
		v, err := s.Verify(ctx, actor, created.Key.ID, c.secret)
		if err != nil || v.Valid != c.want {
			t.Errorf("verify: %+v, %v; want valid %v", v, err, c.want)
		}
	}
	if err := s.Revoke(ctx, actor, created.Key.ID); err != nil {
		t.Fatal(err)
	}
	if v, err := s.Verify(ctx, actor, created.Key.ID, created.Secret); err != nil || v.Valid {
		t.Fatalf("a revoked key's secret verified: %+v, %v", v, err)
	}
}

// A key's last use lives in its usage partition, which the authorizer
// writes on every use and which is hottest when a stolen key is being
// used. A change (disable, restriction, reset, revoke) must take effect
// even when that item cannot be read: the last use only decorates the
// response and the event.
func TestChangesCommitWhenTheLastUseCannotBeRead(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		change func(s *Service, id string) error
		want   func(k *key.Key) bool
	}{
		{"disable", func(s *Service, id string) error {
			_, err := s.Update(ctx, actor, id, key.Patch{Status: key.Field[string]{Set: true, Value: string(key.StatusDisabled)}})
			return err
		}, func(k *key.Key) bool { return k.Status == key.StatusDisabled }},
		{"restrict", func(s *Service, id string) error {
			_, err := s.Update(ctx, actor, id, key.Patch{AllowedIPs: key.Field[[]string]{Set: true, Value: []string{"192.0.2.1"}}})
			return err
		}, func(k *key.Key) bool { return len(k.AllowedIPs) == 1 }},
		{"reset", func(s *Service, id string) error {
			_, err := s.Reset(ctx, actor, id, 0)
			return err
		}, func(k *key.Key) bool { return k.SecretVersion == 2 }},
		{"revoke", func(s *Service, id string) error {
			return s.Revoke(ctx, actor, id)
		}, func(k *key.Key) bool { return k.Status == key.StatusRevoked }},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, st, _ := newService(t)
			created, err := s.Create(ctx, actor, params(), nil)
			if err != nil {
				t.Fatal(err)
			}
			st.Fail["AttachLastUse"] = errDown
			if err := c.change(s, created.Key.ID); err != nil {
				t.Fatalf("%s with the last use unreadable: %v", c.name, err)
			}
			if k, err := st.GetKey(ctx, created.Key.ID); err != nil || !c.want(k) {
				t.Fatalf("%s not committed: %+v, %v", c.name, k, err)
			}
		})
	}
}
