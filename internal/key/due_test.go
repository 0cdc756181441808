package key

import (
	"slices"
	"testing"
	"time"
)

const day = 24 * time.Hour

// dueKey is a key issued at t0 (secret version 1) with the given changes.
func dueKey(change func(k *Key)) *Key {
	k := &Key{
		ID: "ck_test_due", MerchantID: "m_1", Status: StatusActive,
		SecretVersion: 1, SecretVersionID: "v-1", SecretHash: Hash("paykeys_sk_test_current"), SecretIssuedAt: t0,
		CreatedAt: t0, UpdatedAt: t0,
	}
	if change != nil {
		change(k)
	}
	return k
}

// withPrevious gives k a previous secret (version 1) whose grace ends at end,
// and makes the current secret version 2, issued at issued.
func withPrevious(k *Key, issued, end time.Time) {
	k.PrevSecretHash, k.PrevSecretVersion, k.PrevSecretVersionID = Hash("paykeys_sk_test_previous"), 1, "v-1"
	k.PrevSecretExpiresAt = &end
	k.SecretVersion, k.SecretVersionID, k.SecretHash, k.SecretIssuedAt = 2, "v-2", Hash("paykeys_sk_test_current2"), issued
}

func TestDueAtAndNextDue(t *testing.T) {
	exp := t0.Add(30 * day)
	cases := []struct {
		name string
		k    *Key
		now  time.Time
		due  []Duty
		next *time.Time // nil: nothing will fall due
	}{
		{name: "no expiry, no rotation, no previous secret", k: dueKey(nil), now: t0.Add(1000 * day)},
		{
			name: "expiry far away: reminder due 7 days before",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: t0,
			next: ptr(exp.Add(-7 * day)),
		},
		{
			name: "one second before the reminder",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: exp.Add(-7*day - time.Second),
			next: ptr(exp.Add(-7 * day)),
		},
		{
			name: "reminder due exactly 7 days before",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: exp.Add(-7 * day),
			due: []Duty{DutyExpiringNotice}, next: ptr(exp.Add(-7 * day)),
		},
		{
			name: "closer than 7 days at creation: reminder at once",
			k:    dueKey(func(k *Key) { k.ExpiresAt = ptr(t0.Add(2 * day)) }), now: t0,
			due: []Duty{DutyExpiringNotice}, next: ptr(t0.Add(-5 * day)),
		},
		{
			name: "reminder sent: next is the expiry",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp; k.ExpiringNoticeFor = exp }), now: exp.Add(-day),
			next: &exp,
		},
		{
			name: "reminder sent for an earlier expiry: due again for the new one",
			k: dueKey(func(k *Key) {
				k.ExpiresAt = &exp
				k.ExpiringNoticeFor = exp.Add(-10 * day)
			}), now: exp.Add(-day),
			due: []Duty{DutyExpiringNotice}, next: ptr(exp.Add(-7 * day)),
		},
		{
			name: "past expiry: expire, no late reminder",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: exp,
			due: []Duty{DutyExpire}, next: ptr(exp.Add(-7 * day)),
		},
		{
			name: "disabled key expires too",
			k:    dueKey(func(k *Key) { k.Status = StatusDisabled; k.ExpiresAt = &exp; k.ExpiringNoticeFor = exp }), now: exp.Add(time.Hour),
			due: []Duty{DutyExpire}, next: &exp,
		},
		{
			name: "expired key: nothing more",
			k: dueKey(func(k *Key) {
				k.Status = StatusExpired
				k.ExpiresAt = &exp
				k.RotationDays = ptr(1)
			}), now: exp.Add(100 * day),
		},
		{
			name: "revoked key: nothing, whatever it holds",
			k: dueKey(func(k *Key) {
				k.Status = StatusRevoked
				k.ExpiresAt = &exp
				k.RotationDays = ptr(1)
				k.RetiringSecretVersionID = "v-0"
				withPrevious(k, t0, t0.Add(time.Hour))
			}), now: exp.Add(100 * day),
		},
		{
			name: "rotation period not over",
			k:    dueKey(func(k *Key) { k.RotationDays = ptr(90) }), now: t0.Add(89 * day),
			next: ptr(t0.Add(90 * day)),
		},
		{
			name: "rotation period over",
			k:    dueKey(func(k *Key) { k.RotationDays = ptr(90) }), now: t0.Add(90 * day),
			due: []Duty{DutyRotationNotice}, next: ptr(t0.Add(90 * day)),
		},
		{
			name: "rotation notice sent for this version",
			k:    dueKey(func(k *Key) { k.RotationDays = ptr(90); k.RotationNoticeVersion = 1 }), now: t0.Add(200 * day),
		},
		{
			name: "rotation notice sent for an older version: due for the new one",
			k: dueKey(func(k *Key) {
				k.RotationDays = ptr(90)
				k.RotationNoticeVersion = 1
				k.SecretVersion, k.SecretVersionID, k.SecretIssuedAt = 2, "v-2", t0.Add(100*day)
			}), now: t0.Add(190 * day),
			due: []Duty{DutyRotationNotice}, next: ptr(t0.Add(190 * day)),
		},
		{
			name: "grace running",
			k:    dueKey(func(k *Key) { withPrevious(k, t0, t0.Add(time.Hour)) }), now: t0.Add(59 * time.Minute),
			next: ptr(t0.Add(time.Hour)),
		},
		{
			name: "grace over",
			k:    dueKey(func(k *Key) { withPrevious(k, t0, t0.Add(time.Hour)) }), now: t0.Add(time.Hour),
			due: []Duty{DutyEndGrace}, next: ptr(t0.Add(time.Hour)),
		},
		{
			name: "previous secret without an end of grace: forgotten at once",
			k: dueKey(func(k *Key) {
				withPrevious(k, t0, t0)
				k.PrevSecretExpiresAt = nil
			}), now: t0,
			due: []Duty{DutyEndGrace}, next: ptr(time.Time{}),
		},
		{
			name: "a version left to retire is due at once",
			k:    dueKey(func(k *Key) { k.RetiringSecretVersionID = "v-0" }), now: t0,
			due: []Duty{DutyRetireSecret}, next: ptr(time.Time{}),
		},
		{
			name: "grace over while an older version is left to retire: retire first",
			k: dueKey(func(k *Key) {
				withPrevious(k, t0, t0.Add(time.Hour))
				k.RetiringSecretVersionID = "v-0"
			}), now: t0.Add(2 * time.Hour),
			due: []Duty{DutyRetireSecret}, next: ptr(time.Time{}),
		},
		{
			name: "expired key with a previous secret: grace still ends",
			k: dueKey(func(k *Key) {
				k.Status = StatusExpired
				k.ExpiresAt = &exp
				withPrevious(k, exp.Add(-time.Hour), exp)
			}), now: exp.Add(time.Minute),
			due: []Duty{DutyEndGrace}, next: &exp,
		},
		{
			name: "everything at once",
			k: dueKey(func(k *Key) {
				k.ExpiresAt = &exp
				k.RotationDays = ptr(1)
				withPrevious(k, t0, t0.Add(time.Hour))
			}), now: exp.Add(-day),
			due:  []Duty{DutyExpiringNotice, DutyRotationNotice, DutyEndGrace},
			next: ptr(t0.Add(time.Hour)),
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.k.DueAt(c.now); !slices.Equal(got, c.due) {
				t.Errorf("DueAt = %v, want %v", got, c.due)
			}
			got := c.k.NextDue()
			switch {
			case (got == nil) != (c.next == nil):
				t.Errorf("NextDue = %v, want %v", got, c.next)
			case got != nil && !got.Equal(*c.next):
				t.Errorf("NextDue = %v, want %v", *got, *c.next)
			}
			// Something is due exactly when NextDue has come.
			if due := len(c.k.DueAt(c.now)) > 0; due != (got != nil && !got.After(c.now)) {
				t.Errorf("DueAt has %v but NextDue %v at %v", c.k.DueAt(c.now), got, c.now)
			}
		})
	}
}

func TestSweep(t *testing.T) {
	exp := t0.Add(30 * day)
	cases := []struct {
		name  string
		k     *Key
		now   time.Time
		done  []Duty
		check func(t *testing.T, old, n *Key)
	}{
		{
			name: "nothing due: the same key",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: t0,
			check: func(t *testing.T, old, n *Key) {
				if n != old {
					t.Error("Sweep copied a key with nothing due")
				}
			},
		},
		{
			name: "expire",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: exp.Add(time.Minute),
			done: []Duty{DutyExpire},
			check: func(t *testing.T, old, n *Key) {
				if n.Status != StatusExpired || !n.UpdatedAt.Equal(exp.Add(time.Minute)) {
					t.Errorf("status %s updated %v", n.Status, n.UpdatedAt)
				}
				if old.Status != StatusActive {
					t.Error("Sweep changed the original")
				}
			},
		},
		{
			name: "expiring notice recorded for this expiry",
			k:    dueKey(func(k *Key) { k.ExpiresAt = &exp }), now: exp.Add(-day),
			done: []Duty{DutyExpiringNotice},
			check: func(t *testing.T, old, n *Key) {
				if !n.ExpiringNoticeFor.Equal(exp) || !n.UpdatedAt.Equal(old.UpdatedAt) {
					t.Errorf("notice for %v, updated %v", n.ExpiringNoticeFor, n.UpdatedAt)
				}
			},
		},
		{
			name: "rotation notice recorded for this version",
			k:    dueKey(func(k *Key) { k.RotationDays = ptr(30) }), now: t0.Add(31 * day),
			done: []Duty{DutyRotationNotice},
			check: func(t *testing.T, old, n *Key) {
				if n.RotationNoticeVersion != 1 {
					t.Errorf("rotation notice version %d", n.RotationNoticeVersion)
				}
			},
		},
		{
			name: "grace ended: previous secret forgotten, its version left to retire",
			k:    dueKey(func(k *Key) { withPrevious(k, t0, t0.Add(time.Hour)) }), now: t0.Add(time.Hour),
			done: []Duty{DutyEndGrace},
			check: func(t *testing.T, old, n *Key) {
				if n.PrevSecretHash != nil || n.PrevSecretVersion != 0 || n.PrevSecretVersionID != "" || n.PrevSecretExpiresAt != nil {
					t.Errorf("previous secret kept: %+v", n)
				}
				if n.RetiringSecretVersionID != "v-1" {
					t.Errorf("retiring %q, want v-1", n.RetiringSecretVersionID)
				}
				if n.MatchSecret(Hash("paykeys_sk_test_previous"), t0) != NoMatch {
					t.Error("the previous secret still matches")
				}
				if n.MatchSecret(Hash("paykeys_sk_test_current2"), t0) != MatchCurrent {
					t.Error("the current secret no longer matches")
				}
				if old.PrevSecretVersionID != "v-1" {
					t.Error("Sweep changed the original")
				}
			},
		},
		{
			name: "retiring is left to the caller",
			k:    dueKey(func(k *Key) { k.RetiringSecretVersionID = "v-0" }), now: t0,
			check: func(t *testing.T, old, n *Key) {
				if n != old {
					t.Error("Sweep changed a key that only has a version to retire")
				}
				r := n.SecretRetired("v-0")
				if r.RetiringSecretVersionID != "" || n.RetiringSecretVersionID != "v-0" {
					t.Errorf("SecretRetired: %q, original %q", r.RetiringSecretVersionID, n.RetiringSecretVersionID)
				}
				if other := n.SecretRetired("v-9"); other != n {
					t.Error("SecretRetired of another version changed the key")
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, done := c.k.Sweep(c.now)
			if !slices.Equal(done, c.done) {
				t.Errorf("done %v, want %v", done, c.done)
			}
			if c.check != nil {
				c.check(t, c.k, n)
			}
			// What was done is not due again.
			for _, d := range n.DueAt(c.now) {
				if d != DutyRetireSecret {
					t.Errorf("%s still due after Sweep", d)
				}
			}
			if next := n.NextDue(); next != nil && !next.After(c.now) && n.RetiringSecretVersionID == "" {
				t.Errorf("NextDue %v not after %v", next, c.now)
			}
		})
	}
}

// TestSweepOverTime walks one key through its life with a clock and checks
// that every notice happens exactly once.
func TestSweepOverTime(t *testing.T) {
	exp := t0.Add(100 * day)
	k := dueKey(func(k *Key) { k.ExpiresAt = &exp; k.RotationDays = ptr(30) })
	count := map[Duty]int{}
	for now := t0; now.Before(exp.Add(10 * day)); now = now.Add(6 * time.Hour) {
		if now.Equal(t0.Add(50 * day)) { // a reset with an hour of grace
			iss, err := k.Reset(DefaultBrand, time.Hour, "v-2", now)
			if err != nil {
				t.Fatal(err)
			}
			k = iss.Key
		}
		var done []Duty
		k, done = k.Sweep(now)
		for _, d := range done {
			count[d]++
		}
		if k.RetiringSecretVersionID != "" {
			k = k.SecretRetired(k.RetiringSecretVersionID)
		}
		if next := k.NextDue(); next != nil && !next.After(now) {
			t.Fatalf("at %v: NextDue %v is not after now", now, next)
		}
	}
	want := map[Duty]int{DutyRotationNotice: 2, DutyEndGrace: 1, DutyExpiringNotice: 1, DutyExpire: 1}
	for d, n := range want {
		if count[d] != n {
			t.Errorf("%s done %d times, want %d (all: %v)", d, count[d], n, count)
		}
	}
	if k.Status != StatusExpired || k.NextDue() != nil {
		t.Errorf("end: status %s, next due %v", k.Status, k.NextDue())
	}
}
