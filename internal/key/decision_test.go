package key

import (
	"net/netip"
	"testing"
	"time"
)

func TestCheckOrder(t *testing.T) {
	exp := t0.Add(time.Hour)
	base := func() *Key {
		k := newKey(t, NewParams{Scopes: []string{"payments:read"}, AllowedIPs: []string{"203.0.113.0/24"}, ExpiresAt: &exp}).Key
		return k
	}
	ok := Requirement{Mode: ModeBearer, Environment: EnvTest, SourceIP: netip.MustParseAddr("203.0.113.5"), CheckIP: true, Scope: "payments:read"}
	cases := []struct {
		name   string
		mutate func(k *Key, r *Requirement) time.Time
		want   Code
	}{
		{"valid", func(k *Key, r *Requirement) time.Time { return t0 }, CodeValid},
		{"mode first", func(k *Key, r *Requirement) time.Time {
			k.AuthModes = []AuthMode{ModeHMAC}
			k.Status = StatusRevoked
			return t0
		}, CodeModeNotAllowed},
		{"revoked", func(k *Key, r *Requirement) time.Time { k.Status = StatusRevoked; return exp }, CodeRevoked},
		{"disabled before expired", func(k *Key, r *Requirement) time.Time { k.Status = StatusDisabled; return exp }, CodeDisabled},
		{"expired by time", func(k *Key, r *Requirement) time.Time { r.Environment = EnvLive; return exp }, CodeExpired},
		{"expired status", func(k *Key, r *Requirement) time.Time { k.Status = StatusExpired; return t0 }, CodeExpired},
		{"unknown status", func(k *Key, r *Requirement) time.Time { k.Status = "paused"; return t0 }, CodeDisabled},
		{"env before ip", func(k *Key, r *Requirement) time.Time {
			r.Environment = EnvLive
			r.SourceIP = netip.MustParseAddr("198.51.100.1")
			return t0
		}, CodeEnvMismatch},
		{"env unchecked", func(k *Key, r *Requirement) time.Time { r.Environment = ""; return t0 }, CodeValid},
		{"ip before scope", func(k *Key, r *Requirement) time.Time {
			r.SourceIP = netip.MustParseAddr("198.51.100.1")
			r.Scope = "payments:write"
			return t0
		}, CodeIPNotAllowed},
		{"unknown ip with allowlist", func(k *Key, r *Requirement) time.Time { r.SourceIP = netip.Addr{}; return t0 }, CodeIPNotAllowed},
		{"unknown ip, no allowlist", func(k *Key, r *Requirement) time.Time {
			k.AllowedIPs = nil
			r.SourceIP = netip.Addr{}
			return t0
		}, CodeValid},
		{"ip unchecked", func(k *Key, r *Requirement) time.Time {
			r.CheckIP = false
			r.SourceIP = netip.MustParseAddr("198.51.100.1")
			return t0
		}, CodeValid},
		{"scope", func(k *Key, r *Requirement) time.Time { r.Scope = "payments:write"; return t0 }, CodeInsufficientScope},
		{"no scopes at all", func(k *Key, r *Requirement) time.Time { k.Scopes = nil; return t0 }, CodeInsufficientScope},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, r := base(), ok
			now := c.mutate(k, &r)
			if got := k.Check(r, now); got != c.want {
				t.Fatalf("Check = %s, want %s", got, c.want)
			}
		})
	}
}

func TestUnproven(t *testing.T) {
	for _, c := range Codes {
		want := c == CodeMalformed || c == CodeNotFound || c == CodeSignatureInvalid || c == CodeTimestampWindow || c == CodeNonceReused
		if c.Unproven() != want {
			t.Errorf("%s.Unproven() = %v", c, c.Unproven())
		}
	}
	if len(Codes) != 13 {
		t.Fatalf("%d codes, want 13", len(Codes))
	}
}
