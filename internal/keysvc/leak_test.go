package keysvc

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/store"
)

// countingStore holds keys in memory and counts lookups; a method this test
// does not expect panics (the embedded interface is nil).
type countingStore struct {
	Store
	keys    map[string]*key.Key
	gets    int
	updates []store.Extras
	usage   []store.UsageDay
}

func (s *countingStore) GetKey(_ context.Context, id string) (*key.Key, error) {
	s.gets++
	if k, ok := s.keys[id]; ok {
		return k.Clone(), nil
	}
	return nil, key.ErrNotFound
}

func (s *countingStore) UpdateKey(_ context.Context, k *key.Key, x store.Extras) error {
	s.updates = append(s.updates, x)
	n := k.Clone()
	n.Revision++
	s.keys[k.ID] = n
	return nil
}

func (s *countingStore) AddUsage(_ context.Context, _ string, day store.UsageDay, _ string) error {
	s.usage = append(s.usage, day)
	return nil
}

type noSecrets struct{ Secrets }

func (noSecrets) Delete(context.Context, string) error { return nil }

func TestLeakedLooksUpOnlyWellFormedTokens(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	iss, err := key.New(key.NewParams{MerchantID: "m_1", Name: "k", Environment: key.EnvLive}, "v-1", now)
	if err != nil {
		t.Fatal(err)
	}
	st := &countingStore{keys: map[string]*key.Key{iss.Key.ID: iss.Key}}
	s := New(st, noSecrets{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Now = func() time.Time { return now }
	a := key.Actor{RequestID: "r1", SourceIP: "192.0.2.1"}

	bad := []byte(iss.Secret)
	bad[30] ^= 1 // one character off: the checksum fails
	tail := iss.Secret[len("paykeys_sk_live_"):]
	for _, c := range []struct {
		name  string
		token string
		ours  bool
		gets  int
	}{
		{"checksum fails", string(bad), false, 0},
		{"not a secret at all", "ghp_0123456789abcdef", false, 0},
		{"empty", "", false, 0},
		{"another brand", "acme_sk_live_" + tail, false, 0},
		{"the unbranded form", "sk_live_" + tail, false, 0},
		{"well formed, no such key", key.DefaultBrand.NewSecret(key.NewClientID(key.EnvLive)), false, 1},
		{"well formed, the key's, not its secret", key.DefaultBrand.NewSecret(iss.Key.ID), false, 1},
		{"the key's secret", iss.Secret, true, 1},
		{"the key's secret again", iss.Secret, true, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := st.gets
			ours, err := s.Leaked(context.Background(), a, Leak{Token: c.token, URL: "https://example.com/x", Source: "content"})
			if err != nil || ours != c.ours {
				t.Fatalf("Leaked = %v, %v; want %v", ours, err, c.ours)
			}
			if got := st.gets - before; got != c.gets {
				t.Errorf("lookups = %d, want %d", got, c.gets)
			}
		})
	}
	if len(st.updates) != 1 || len(st.usage) != 1 {
		t.Fatalf("%d changes and %d usage writes, want one of each", len(st.updates), len(st.usage))
	}
	x := st.updates[0]
	if x.Audit.Actor != LeakActor || x.Audit.MerchantID != "m_1" || x.Audit.Action != "key.leak" || x.Audit.RequestID != "r1" ||
		len(x.Events) != 1 || x.Events[0].Type != outbox.EventKeyLeaked || x.Revokes {
		t.Errorf("extras = %+v", x)
	}
	if st.keys[iss.Key.ID].Status != key.StatusDisabled {
		t.Errorf("a live key under the default policy is %s, want disabled", st.keys[iss.Key.ID].Status)
	}
	if d := st.usage[0]; d.Date != "2026-11-23" || d.Denied[string(key.CodeLeaked)] != 1 {
		t.Errorf("usage = %+v", d)
	}
}
