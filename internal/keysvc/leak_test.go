package keysvc

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/testenv/mem"
)

func TestLeakedLooksUpOnlyWellFormedTokens(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	iss, err := key.New(key.NewParams{MerchantID: "m_1", Name: "k", Environment: key.EnvLive}, "v-1", now)
	if err != nil {
		t.Fatal(err)
	}
	st := mem.NewStore()
	st.Keys[iss.Key.ID] = *iss.Key
	s := New(st, mem.NewSecrets(), slog.New(slog.NewTextHandler(io.Discard, nil)))
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
			before := st.Count("GetKey")
			ours, err := s.Leaked(context.Background(), a, Leak{Token: c.token, URL: "https://example.com/x", Source: "content"})
			if err != nil || ours != c.ours {
				t.Fatalf("Leaked = %v, %v; want %v", ours, err, c.ours)
			}
			if got := st.Count("GetKey") - before; got != c.gets {
				t.Errorf("lookups = %d, want %d", got, c.gets)
			}
		})
	}
	if st.Count("UpdateKey") != 1 || st.Count("AddUsage") != 1 || len(st.Audit) != 1 {
		t.Fatalf("%d changes and %d usage writes, want one of each", st.Count("UpdateKey"), st.Count("AddUsage"))
	}
	if a := st.Audit[0]; a.Actor != LeakActor || a.MerchantID != "m_1" || a.Action != "key.leak" || a.RequestID != "r1" ||
		len(st.Events) != 1 || st.Events[0].Type != outbox.EventKeyLeaked {
		t.Errorf("audit = %+v, events = %+v", a, st.Events)
	}
	if st.Keys[iss.Key.ID].Status != key.StatusDisabled {
		t.Errorf("a live key under the default policy is %s, want disabled", st.Keys[iss.Key.ID].Status)
	}
	if d := st.Usage[iss.Key.ID]["2026-11-23"]; d.Denied[string(key.CodeLeaked)] != 1 {
		t.Errorf("usage = %+v", d)
	}
}
