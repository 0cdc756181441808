package keysvc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// These tests run the service against stores in memory, so that `go test`
// alone proves the order of its writes; the integration tests run the same
// operations against DynamoDB Local and the Secrets Manager emulator.

var errDown = errors.New("store down")

// memStore is the metadata store in memory. Its CreateKey and UpdateKey ask
// check first, so a test can look at the secret store at the moment a key
// record becomes visible.
type memStore struct {
	mu     sync.Mutex
	keys   map[string]key.Key
	idem   map[string]store.Idempotency
	audit  []store.AuditRecord
	fail   map[string]error // by method name
	stale  int              // UpdateKeys still to answer ErrStale
	check  func(k *key.Key)
	writes int
}

func newMemStore() *memStore {
	return &memStore{keys: map[string]key.Key{}, idem: map[string]store.Idempotency{}, fail: map[string]error{}}
}

func (m *memStore) CreateKey(_ context.Context, k *key.Key, x store.Extras) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail["CreateKey"]; err != nil {
		return err
	}
	if m.check != nil {
		m.check(k)
	}
	if _, ok := m.keys[k.ID]; ok {
		return store.ErrStale
	}
	k.Revision = 1
	m.keys[k.ID] = *k
	m.extras(x)
	m.writes++
	return nil
}

func (m *memStore) GetKey(_ context.Context, id string) (*key.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail["GetKey"]; err != nil {
		return nil, err
	}
	k, ok := m.keys[id]
	if !ok {
		return nil, key.NotFound("key", id)
	}
	return &k, nil
}

// AttachLastUse leaves the keys as they are: the fake keeps no last use
// apart from the key.
func (m *memStore) AttachLastUse(_ context.Context, _ ...*key.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.fail["AttachLastUse"]
}

func (m *memStore) UpdateKey(_ context.Context, k *key.Key, x store.Extras) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail["UpdateKey"]; err != nil {
		return err
	}
	if m.stale > 0 {
		m.stale--
		return store.ErrStale
	}
	cur, ok := m.keys[k.ID]
	if !ok || cur.Revision != k.Revision {
		return store.ErrStale
	}
	if m.check != nil {
		m.check(k)
	}
	k.Revision++
	m.keys[k.ID] = *k
	m.extras(x)
	m.writes++
	return nil
}

func (m *memStore) extras(x store.Extras) {
	if x.Audit != nil {
		m.audit = append(m.audit, *x.Audit)
	}
	if i := x.Idempotency; i != nil {
		m.idem[i.MerchantID+"/"+i.Subject+"/"+i.Key] = *i
	}
}

func (m *memStore) ListKeys(context.Context, string, store.ListFilter) ([]*key.Key, string, error) {
	return nil, "", errors.New("not used")
}

func (m *memStore) GetIdempotency(_ context.Context, merchantID, subject, idemKey string) (*store.Idempotency, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	i, ok := m.idem[merchantID+"/"+subject+"/"+idemKey]
	if !ok {
		return nil, key.NotFound("idempotency record", idemKey)
	}
	return &i, nil
}

func (m *memStore) PutAudit(_ context.Context, r *store.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, *r)
	return nil
}

func (m *memStore) RateLimit(context.Context, string, int, time.Duration, time.Time) (bool, time.Duration, error) {
	return true, 0, nil
}

func (m *memStore) AddUsage(context.Context, string, store.UsageDay, string) error { return nil }

// memSecrets is the secret store in memory: each key's versions, and which
// one is current. calls lists what was asked, in order.
type memSecrets struct {
	mu       sync.Mutex
	versions map[string]map[string]string // client ID → version ID → value
	current  map[string]string            // client ID → version ID
	fail     map[string]error
	calls    []string
}

func newMemSecrets() *memSecrets {
	return &memSecrets{versions: map[string]map[string]string{}, current: map[string]string{}, fail: map[string]error{}}
}

func (m *memSecrets) call(name string) error {
	m.calls = append(m.calls, name)
	return m.fail[name]
}

func (m *memSecrets) put(id, version, value string) {
	if m.versions[id] == nil {
		m.versions[id] = map[string]string{}
	}
	m.versions[id][version] = value
}

func (m *memSecrets) Create(_ context.Context, id, version, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Create"); err != nil {
		return err
	}
	m.put(id, version, value)
	m.current[id] = version
	return nil
}

func (m *memSecrets) Stage(_ context.Context, id, version, value string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Stage"); err != nil {
		return err
	}
	m.put(id, version, value)
	return nil
}

func (m *memSecrets) Promote(_ context.Context, id, current, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Promote"); err != nil {
		return err
	}
	m.current[id] = current
	return nil
}

func (m *memSecrets) Get(_ context.Context, id, version string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Get"); err != nil {
		return "", err
	}
	v, ok := m.versions[id][version]
	if !ok {
		return "", key.NotFound("secret", id)
	}
	return v, nil
}

func (m *memSecrets) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("Delete"); err != nil {
		return err
	}
	delete(m.versions, id)
	delete(m.current, id)
	return nil
}

// has reports whether the secret store holds value as version of id.
// Callers hold no lock: the store calls check with its own lock held only.
func (m *memSecrets) has(id, version, value string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.versions[id][version] == value && value != ""
}

var actor = key.Actor{Subject: "user_1", MerchantID: "m_1", Role: "admin"}

func newService(t *testing.T) (*Service, *memStore, *memSecrets) {
	t.Helper()
	st, sec := newMemStore(), newMemSecrets()
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
	st.check = func(k *key.Key) {
		for v, val := range sec.versions[k.ID] {
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
	if len(st.audit) != 1 || st.audit[0].Action != "key.create" || st.audit[0].Outcome != outcomeSuccess {
		t.Fatalf("audit = %+v", st.audit)
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
				st.fail["CreateKey"] = c.storeFail
			}
			for k, v := range c.secretFail {
				sec.fail[k] = v
			}
			out, err := s.Create(context.Background(), actor, params(), nil)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if out.Secret != "" || out.Key.ID != "" {
				t.Fatalf("a failed create returned %+v", out)
			}
			if len(st.keys) != 0 || st.writes != 0 || len(st.audit) != 0 {
				t.Fatalf("a failed create left %d keys, %d audit records", len(st.keys), len(st.audit))
			}
			if left := len(sec.versions) > 0; left != c.secretLeft {
				t.Fatalf("secret left behind: %v, want %v", left, c.secretLeft)
			}
			if !slices.Equal(sec.calls, c.wantSecretOps) {
				t.Fatalf("secret store calls %v, want %v", sec.calls, c.wantSecretOps)
			}
		})
	}
}

// Concurrent creates of one merchant make CreateKey stale; the service tries
// again with the same key and secret, and gives up with a conflict.
func TestCreateRetriesStaleCounts(t *testing.T) {
	s, st, sec := newService(t)
	tries := 0
	st.check = func(*key.Key) { tries++ }
	st.fail["CreateKey"] = store.ErrStale
	s.MaxAttempts = 3
	if _, err := s.Create(context.Background(), actor, params(), nil); !errors.Is(err, key.ErrConflict) {
		t.Fatalf("err = %v, want a conflict", err)
	}
	if len(sec.versions) != 0 {
		t.Fatal("the secret of a create that gave up was left behind")
	}
	delete(st.fail, "CreateKey")
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
	if n := len(st.keys); n != 1 {
		t.Fatalf("%d keys after a replay", n)
	}
	if last := st.audit[len(st.audit)-1]; last.Outcome != outcomeReplayed {
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
	sec.calls = nil
	st.check = func(k *key.Key) {
		found := false
		for _, val := range sec.versions[k.ID] {
			found = found || string(key.Hash(val)) == string(k.SecretHash)
		}
		if !found || sec.current[k.ID] == k.SecretVersionID {
			t.Errorf("record committed with staged=%v, labels already moved=%v", found, sec.current[k.ID] == k.SecretVersionID)
		}
	}
	issued, err := s.Reset(ctx, actor, c.Key.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sec.calls, []string{"Stage", "Promote"}) {
		t.Fatalf("secret store calls %v", sec.calls)
	}
	k, _ := st.GetKey(ctx, c.Key.ID)
	if !sec.has(k.ID, k.SecretVersionID, issued.Secret) || sec.current[k.ID] != k.SecretVersionID {
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
				sec.fail[c.secret] = errDown
			}
			if c.store {
				st.fail["UpdateKey"] = errDown
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
	st.stale = 2
	if _, err := s.Reset(ctx, actor, created.Key.ID, 0); err != nil {
		t.Fatalf("reset after two stale writes: %v", err)
	}
	st.stale = s.MaxAttempts
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
	st.check = func(k *key.Key) {
		if len(sec.versions[k.ID]) == 0 {
			t.Error("secret destroyed before the revoke was committed")
		}
	}
	sec.fail["Delete"] = errDown
	if err := s.Revoke(ctx, actor, created.Key.ID); !errors.Is(err, errDown) {
		t.Fatalf("revoke with the secret store down: %v", err)
	}
	if k, _ := st.GetKey(ctx, created.Key.ID); k.Status != key.StatusRevoked {
		t.Fatalf("status %s after a revoke whose destruction failed", k.Status)
	}
	delete(sec.fail, "Delete")
	writes := st.writes
	if err := s.Revoke(ctx, actor, created.Key.ID); err != nil {
		t.Fatal(err)
	}
	if len(sec.versions) != 0 {
		t.Fatal("the second revoke did not destroy the secret")
	}
	if st.writes != writes {
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
	sec.calls = nil
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
	if len(sec.calls) != 0 {
		t.Fatalf("secret store called for another merchant's key: %v", sec.calls)
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
