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
	"github.com/paykeys/paykeys/internal/testenv/mem"
)

// These tests run the service against stores in memory, so that `go test`
// alone proves the order of its writes; the integration tests run it against
// DynamoDB Local and the Secrets Manager emulator.

var errDown = errors.New("store down")

var actor = key.Actor{Subject: "user_1", MerchantID: "m_1", Role: "admin"}

func newService() (*Service, *mem.Store, *mem.Secrets) {
	st, sec := mem.NewStore(), mem.NewSecrets()
	return New(st, sec, mem.AnyURL{}, slog.New(slog.NewTextHandler(io.Discard, nil))), st, sec
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
	st.CheckEndpoint = func(e *hook.Endpoint) {
		if sec.Versions[hook.SecretName(e.ID)][e.SecretVersionID] == "" {
			t.Error("endpoint visible before its signing secret was stored")
		}
	}
	e, secret := create(t, s)
	if secret == "" || sec.Versions[hook.SecretName(e.ID)][e.SecretVersionID] != secret {
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
			st.Fail["CreateEndpoint"], sec.Fail["Create"] = c.store, c.secret
			e, secret, err := s.Create(context.Background(), actor, CreateParams{URL: "http://127.0.0.1:9/hook"})
			if !errors.Is(err, c.wantErr) || e != nil || secret != "" {
				t.Fatalf("create = %v, %q, %v; want error %v", e, secret, err, c.wantErr)
			}
			if len(st.Endpoints) != 0 || len(sec.Versions) != 0 || len(st.Audit) != 0 {
				t.Fatalf("left %d endpoints, %d secrets, %d audit records", len(st.Endpoints), len(sec.Versions), len(st.Audit))
			}
			if !slices.Equal(sec.Calls, c.wantCalls) {
				t.Fatalf("secret store calls %v, want %v", sec.Calls, c.wantCalls)
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
	sec.Calls = nil
	st.CheckEndpoint = func(n *hook.Endpoint) {
		if sec.Versions[name][n.SecretVersionID] == "" || sec.Current[name] == n.SecretVersionID {
			t.Error("endpoint committed before its new secret was staged, or after the labels moved")
		}
	}
	n, secret, err := s.RotateSecret(context.Background(), actor, e.ID, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sec.Calls, []string{"Stage", "Promote"}) {
		t.Fatalf("secret store calls %v", sec.Calls)
	}
	if sec.Versions[name][n.SecretVersionID] != secret || sec.Current[name] != n.SecretVersionID ||
		n.PrevSecretVersionID != e.SecretVersionID || n.SecretRotationEndsAt == nil {
		t.Fatalf("after the rotation: %+v", n)
	}

	st.CheckEndpoint = nil
	sec.Fail["Stage"] = errDown
	before := st.Endpoints[e.ID]
	if _, secret, err := s.RotateSecret(context.Background(), actor, e.ID, 0); !errors.Is(err, errDown) || secret != "" {
		t.Fatalf("rotation with the secret store down: %q, %v", secret, err)
	}
	if after := st.Endpoints[e.ID]; after.SecretVersionID != before.SecretVersionID || after.Revision != before.Revision {
		t.Fatal("a failed rotation changed the endpoint")
	}
}

// Delete removes the endpoint before its secret, so that no endpoint ever
// names a deleted secret.
func TestDeleteOrder(t *testing.T) {
	s, st, sec := newService()
	e, _ := create(t, s)
	st.CheckEndpoint = func(e *hook.Endpoint) {
		if len(sec.Versions[hook.SecretName(e.ID)]) == 0 {
			t.Error("secret deleted before the endpoint")
		}
	}
	if err := s.Delete(context.Background(), actor, e.ID); err != nil {
		t.Fatal(err)
	}
	if len(st.Endpoints) != 0 || len(sec.Versions) != 0 {
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
	sec.Calls = nil
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
	if len(sec.Calls) != 0 {
		t.Fatalf("secret store called for another merchant's endpoint: %v", sec.Calls)
	}
}

// landsThenFails is a store whose endpoint writes commit and then report an
// error, as a write whose response was lost to a timeout, or whose request
// was cancelled after DynamoDB had taken it.
type landsThenFails struct {
	*mem.Store
	err    error
	cancel context.CancelFunc // when set, the request is cut off too
}

func (s landsThenFails) CreateEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord, limit int) error {
	if err := s.Store.CreateEndpoint(ctx, e, a, limit); err != nil {
		return err
	}
	if s.cancel != nil {
		s.cancel()
	}
	return s.err
}

// A create whose endpoint write reported an error but committed keeps the
// signing secret the endpoint names: deleting it would leave an endpoint
// that no delivery can be signed for and whose secret cannot be rotated.
func TestCreateKeepsSecretOfCommittedEndpoint(t *testing.T) {
	for _, c := range []struct {
		name string
		cut  bool
	}{
		{name: "response lost", cut: false},
		{name: "request cut off", cut: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			st, sec := mem.NewStore(), mem.NewSecrets()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			lf := landsThenFails{Store: st, err: errDown}
			if c.cut {
				lf.cancel, lf.err = cancel, context.Canceled
			}
			s := New(lf, sec, mem.AnyURL{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if _, _, err := s.Create(ctx, actor, CreateParams{URL: "http://127.0.0.1:9/hook"}); err == nil {
				t.Fatal("create succeeded; want the write's error")
			}
			if len(st.Endpoints) != 1 {
				t.Fatalf("%d endpoints committed, want 1", len(st.Endpoints))
			}
			for id, e := range st.Endpoints {
				if sec.Versions[hook.SecretName(id)][e.SecretVersionID] == "" {
					t.Fatalf("endpoint %s committed but its signing secret was deleted (secret store calls %v)", id, sec.Calls)
				}
			}
		})
	}
}
