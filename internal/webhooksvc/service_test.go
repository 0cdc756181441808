package webhooksvc

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// These tests run the service against stores in memory, so that `go test`
// alone proves the order of its writes; the integration tests run it against
// DynamoDB Local and the Secrets Manager emulator.

var errDown = errors.New("store down")

// memStore keeps endpoints in memory. Methods these tests do not use are
// the embedded interface's, which is nil: calling one panics.
type memStore struct {
	Store
	endpoints map[string]hook.Endpoint
	audit     []store.AuditRecord
	fail      map[string]error
	check     func(e *hook.Endpoint) // called as an endpoint write commits
}

func newMemStore() *memStore {
	return &memStore{endpoints: map[string]hook.Endpoint{}, fail: map[string]error{}}
}

func (m *memStore) commit(e *hook.Endpoint, a *store.AuditRecord) {
	if m.check != nil {
		m.check(e)
	}
	e.Revision++
	m.endpoints[e.ID] = *e
	m.audit = append(m.audit, *a)
}

func (m *memStore) CreateEndpoint(_ context.Context, e *hook.Endpoint, a *store.AuditRecord, _ int) error {
	if err := m.fail["CreateEndpoint"]; err != nil {
		return err
	}
	m.commit(e, a)
	return nil
}

func (m *memStore) SaveEndpoint(_ context.Context, e *hook.Endpoint, a *store.AuditRecord) error {
	if err := m.fail["SaveEndpoint"]; err != nil {
		return err
	}
	if cur, ok := m.endpoints[e.ID]; !ok || cur.Revision != e.Revision {
		return store.ErrStale
	}
	m.commit(e, a)
	return nil
}

func (m *memStore) DeleteEndpoint(_ context.Context, e *hook.Endpoint, a *store.AuditRecord) error {
	if err := m.fail["DeleteEndpoint"]; err != nil {
		return err
	}
	if m.check != nil {
		m.check(e)
	}
	delete(m.endpoints, e.ID)
	m.audit = append(m.audit, *a)
	return nil
}

func (m *memStore) GetEndpoint(_ context.Context, id string) (*hook.Endpoint, error) {
	e, ok := m.endpoints[id]
	if !ok {
		return nil, key.NotFound("webhook endpoint", id)
	}
	return &e, nil
}

// memSecrets keeps signing secrets in memory: name → version → value, and
// the current version. calls lists what was asked, in order.
type memSecrets struct {
	versions map[string]map[string]string
	current  map[string]string
	fail     map[string]error
	calls    []string
}

func newMemSecrets() *memSecrets {
	return &memSecrets{versions: map[string]map[string]string{}, current: map[string]string{}, fail: map[string]error{}}
}

func (m *memSecrets) put(name, version, value string) {
	if m.versions[name] == nil {
		m.versions[name] = map[string]string{}
	}
	m.versions[name][version] = value
}

func (m *memSecrets) Create(_ context.Context, name, version, value string) error {
	m.calls = append(m.calls, "Create")
	if err := m.fail["Create"]; err != nil {
		return err
	}
	m.put(name, version, value)
	m.current[name] = version
	return nil
}

func (m *memSecrets) Stage(_ context.Context, name, version, value string) error {
	m.calls = append(m.calls, "Stage")
	if err := m.fail["Stage"]; err != nil {
		return err
	}
	m.put(name, version, value)
	return nil
}

func (m *memSecrets) Promote(_ context.Context, name, current, _ string) error {
	m.calls = append(m.calls, "Promote")
	if err := m.fail["Promote"]; err != nil {
		return err
	}
	m.current[name] = current
	return nil
}

func (m *memSecrets) Delete(_ context.Context, name string) error {
	m.calls = append(m.calls, "Delete")
	if err := m.fail["Delete"]; err != nil {
		return err
	}
	delete(m.versions, name)
	delete(m.current, name)
	return nil
}

// anyURL lets every URL through; the URL guard has tests of its own.
type anyURL struct{}

func (anyURL) CheckURL(context.Context, string) error { return nil }

var actor = key.Actor{Subject: "user_1", MerchantID: "m_1", Role: "admin"}

func newService() (*Service, *memStore, *memSecrets) {
	st, sec := newMemStore(), newMemSecrets()
	return New(st, sec, anyURL{}, slog.New(slog.NewTextHandler(io.Discard, nil))), st, sec
}

func create(t *testing.T, s *Service) (*hook.Endpoint, string) {
	t.Helper()
	e, secret, err := s.Create(context.Background(), actor, CreateParams{URL: "http://127.0.0.1:9/hook"})
	if err != nil {
		t.Fatal(err)
	}
	return e, secret
}

// An endpoint is visible only once its signing secret is stored, and a
// create that fails leaves neither the endpoint nor its secret.
func TestCreateOrder(t *testing.T) {
	s, st, sec := newService()
	st.check = func(e *hook.Endpoint) {
		if sec.versions[hook.SecretName(e.ID)][e.SecretVersionID] == "" {
			t.Error("endpoint visible before its signing secret was stored")
		}
	}
	e, secret := create(t, s)
	if secret == "" || sec.versions[hook.SecretName(e.ID)][e.SecretVersionID] != secret {
		t.Fatal("the returned secret is not the stored one")
	}

	for _, c := range []struct {
		name       string
		store      error
		secret     error
		wantCalls  []string
		wantErr    error
		wantSecret bool
	}{
		{name: "secret write fails", secret: errDown, wantCalls: []string{"Create"}, wantErr: errDown},
		{name: "endpoint write fails", store: errDown, wantCalls: []string{"Create", "Delete"}, wantErr: errDown},
		{name: "merchant at its limit", store: store.ErrLimitReached, wantCalls: []string{"Create", "Delete"}, wantErr: key.ErrConflict},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, st, sec := newService()
			st.fail["CreateEndpoint"], sec.fail["Create"] = c.store, c.secret
			e, secret, err := s.Create(context.Background(), actor, CreateParams{URL: "http://127.0.0.1:9/hook"})
			if !errors.Is(err, c.wantErr) || e != nil || secret != "" {
				t.Fatalf("create = %v, %q, %v; want error %v", e, secret, err, c.wantErr)
			}
			if len(st.endpoints) != 0 || len(sec.versions) != 0 || len(st.audit) != 0 {
				t.Fatalf("left %d endpoints, %d secrets, %d audit records", len(st.endpoints), len(sec.versions), len(st.audit))
			}
			if !slices.Equal(sec.calls, c.wantCalls) {
				t.Fatalf("secret store calls %v, want %v", sec.calls, c.wantCalls)
			}
		})
	}
}

// A rotation stages the new secret before the endpoint names it and moves
// the labels after; the old secret keeps signing through the overlap. A
// rotation whose staging fails changes nothing.
func TestRotateSecretOrder(t *testing.T) {
	s, st, sec := newService()
	e, _ := create(t, s)
	name := hook.SecretName(e.ID)
	sec.calls = nil
	st.check = func(n *hook.Endpoint) {
		if sec.versions[name][n.SecretVersionID] == "" || sec.current[name] == n.SecretVersionID {
			t.Error("endpoint committed before its new secret was staged, or after the labels moved")
		}
	}
	n, secret, err := s.RotateSecret(context.Background(), actor, e.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sec.calls, []string{"Stage", "Promote"}) {
		t.Fatalf("secret store calls %v", sec.calls)
	}
	if sec.versions[name][n.SecretVersionID] != secret || sec.current[name] != n.SecretVersionID ||
		n.PrevSecretVersionID != e.SecretVersionID || n.SecretRotationEndsAt == nil {
		t.Fatalf("after the rotation: %+v", n)
	}

	st.check = nil
	sec.fail["Stage"] = errDown
	before := st.endpoints[e.ID]
	if _, secret, err := s.RotateSecret(context.Background(), actor, e.ID, 0); !errors.Is(err, errDown) || secret != "" {
		t.Fatalf("rotation with the secret store down: %q, %v", secret, err)
	}
	if after := st.endpoints[e.ID]; after.SecretVersionID != before.SecretVersionID || after.Revision != before.Revision {
		t.Fatal("a failed rotation changed the endpoint")
	}
}

// Delete removes the endpoint before its secret, so that no endpoint ever
// names a deleted secret.
func TestDeleteOrder(t *testing.T) {
	s, st, sec := newService()
	e, _ := create(t, s)
	st.check = func(e *hook.Endpoint) {
		if len(sec.versions[hook.SecretName(e.ID)]) == 0 {
			t.Error("secret deleted before the endpoint")
		}
	}
	if err := s.Delete(context.Background(), actor, e.ID); err != nil {
		t.Fatal(err)
	}
	if len(st.endpoints) != 0 || len(sec.versions) != 0 {
		t.Fatal("endpoint or secret left after a delete")
	}
	if _, err := s.Get(context.Background(), actor, e.ID); !errors.Is(err, key.ErrNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}

// Another merchant's endpoint is not found, and nothing touches its secret.
func TestOtherMerchantsEndpointsAreNotFound(t *testing.T) {
	s, _, sec := newService()
	e, _ := create(t, s)
	sec.calls = nil
	other := key.Actor{Subject: "user_2", MerchantID: "m_2", Role: "admin"}
	ctx := context.Background()
	if _, err := s.Get(ctx, other, e.ID); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("get: %v", err)
	}
	if _, _, err := s.RotateSecret(ctx, other, e.ID, 0); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("rotate: %v", err)
	}
	if err := s.Delete(ctx, other, e.ID); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("delete: %v", err)
	}
	if len(sec.calls) != 0 {
		t.Fatalf("secret store called for another merchant's endpoint: %v", sec.calls)
	}
}
