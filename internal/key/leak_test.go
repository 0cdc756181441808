package key

import (
	"testing"
	"time"
)

func TestLeak(t *testing.T) {
	t0 := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	mint := func(env Environment) (*Key, string) {
		iss, err := New(NewParams{MerchantID: "m_1", Name: "k", Environment: env}, "v-1", t0)
		if err != nil {
			t.Fatal(err)
		}
		return iss.Key, iss.Secret
	}
	live, liveSecret := mint(EnvLive)
	test, testSecret := mint(EnvTest)
	// A live key inside a reset's grace period: its previous secret leaks.
	graced, oldSecret := mint(EnvLive)
	reset, err := graced.Reset(DefaultBrand, time.Hour, "v-2", t0)
	if err != nil {
		t.Fatal(err)
	}
	graced = reset.Key
	expired, expiredSecret := mint(EnvLive)
	expired.ExpiresAt = &t0
	revoked := test.Revoke(t0)

	now := t0.Add(time.Minute)
	cases := []struct {
		name       string
		k          *Key
		secret     string
		policy     LeakPolicy
		ours       bool
		action     LeakAction // "": no change
		wantStatus Status
	}{
		{"test key, current secret", test, testSecret, LeakDisable, true, LeakRevoked, StatusRevoked},
		{"live key, disable policy", live, liveSecret, LeakDisable, true, LeakDisabled, StatusDisabled},
		{"live key, revoke policy", live, liveSecret, LeakRevoke, true, LeakRevoked, StatusRevoked},
		{"previous secret in grace", graced, oldSecret, LeakDisable, true, LeakRevoked, StatusActive},
		{"current secret of a key in grace", graced, reset.Secret, LeakDisable, true, LeakDisabled, StatusDisabled},
		{"revoked key's last secret", revoked, testSecret, LeakDisable, true, "", ""},
		{"expired key", expired, expiredSecret, LeakRevoke, true, "", ""},
		{"another key's secret", live, testSecret, LeakDisable, false, "", ""},
		{"a well-formed stranger", live, DefaultBrand.NewSecret(live.ID), LeakDisable, false, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.k.Clone()
			out := c.k.Leak(Hash(c.secret), c.policy, now)
			if out.Ours != c.ours || out.Action != c.action || (out.Changed == nil) != (c.action == "") {
				t.Fatalf("Leak = %+v, want ours %v, action %q", out, c.ours, c.action)
			}
			if c.k.Status != before.Status || c.k.LeakedSecretVersion != before.LeakedSecretVersion {
				t.Fatal("Leak changed the key it was given")
			}
			if out.Changed == nil {
				return
			}
			n := out.Changed
			if n.Status != c.wantStatus || !n.UpdatedAt.Equal(now) {
				t.Errorf("status %s at %s, want %s at %s", n.Status, n.UpdatedAt, c.wantStatus, now)
			}
			if n.MatchSecret(Hash(c.secret), now) != NoMatch && n.Status == StatusActive {
				t.Error("the leaked secret still works")
			}
			// A repeat of the same report changes nothing, even once the
			// merchant has enabled the key again.
			again := n.Clone()
			if again.Status == StatusDisabled {
				again.Status = StatusActive
			}
			if o := again.Leak(Hash(c.secret), c.policy, now.Add(time.Second)); !o.Ours || o.Changed != nil {
				t.Errorf("a repeated report: %+v", o)
			}
		})
	}
	// The previous secret's leak leaves the current secret alone.
	out := graced.Leak(Hash(oldSecret), LeakDisable, now)
	if out.Changed.MatchSecret(Hash(reset.Secret), now) != MatchCurrent || out.Changed.InGrace(now) {
		t.Error("a leaked previous secret must end its grace and leave the current one working")
	}
}

func TestParseLeakPolicy(t *testing.T) {
	for in, want := range map[string]LeakPolicy{"": LeakDisable, "disable": LeakDisable, "revoke": LeakRevoke} {
		if got, err := ParseLeakPolicy(in); err != nil || got != want {
			t.Errorf("ParseLeakPolicy(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"Disable", "delete", " revoke"} {
		if _, err := ParseLeakPolicy(in); err == nil {
			t.Errorf("ParseLeakPolicy(%q) accepted", in)
		}
	}
}
