package key

import "time"

// Duty is one piece of scheduled lifecycle work on a key (README: Scheduled lifecycle):
// what the rotate job does when a key falls due.
type Duty string

const (
	// DutyExpire: an active or disabled key is past its expires_at; its
	// status becomes expired (announced as key.expired).
	DutyExpire Duty = "expire"
	// DutyExpiringNotice: the key expires within ExpiringNotice and no
	// notice was sent for that expiry yet (key.expiring, once per expiry; at
	// once for a key that is already closer than that).
	DutyExpiringNotice Duty = "expiring_notice"
	// DutyRotationNotice: rotation_days have passed since the current
	// secret was issued and no notice was sent for it yet (key.rotation_due,
	// once per secret version).
	DutyRotationNotice Duty = "rotation_notice"
	// DutyEndGrace: the previous secret's grace period is over; the record
	// forgets it (hash, version, version ID, end of grace) and remembers its
	// version in RetiringSecretVersionID, to be removed from the secret store.
	DutyEndGrace Duty = "end_grace"
	// DutyRetireSecret: RetiringSecretVersionID is still to be removed from
	// the secret store. Only the caller can do that (it is I/O); afterwards
	// SecretRetired clears it from the record. Sweep never does it.
	DutyRetireSecret Duty = "retire_secret"
)

// dueAtOnce is the due time of work that is due as soon as it exists: the
// earliest time there is, so it sorts before everything else.
var dueAtOnce = time.Time{}

// lifecycleOpen reports whether the key can still expire, be reminded and
// be asked to rotate: it is active or disabled.
func (k *Key) lifecycleOpen() bool {
	return k.Status == StatusActive || k.Status == StatusDisabled
}

// hasPrevious reports whether the record still holds anything of a previous
// secret.
func (k *Key) hasPrevious() bool {
	return len(k.PrevSecretHash) > 0 || k.PrevSecretVersion != 0 || k.PrevSecretVersionID != "" || k.PrevSecretExpiresAt != nil
}

// graceEnd is when the previous secret stops counting: its end of grace, or
// at once for a previous secret without one (it never counts, see InGrace).
func (k *Key) graceEnd() time.Time {
	if k.PrevSecretExpiresAt == nil {
		return dueAtOnce
	}
	return *k.PrevSecretExpiresAt
}

// expiringNoticeAt is when the expiring notice for the current expiry falls
// due; ok is false when there is no expiry or its notice was sent.
func (k *Key) expiringNoticeAt() (t time.Time, ok bool) {
	if k.ExpiresAt == nil || k.ExpiringNoticeFor.Equal(*k.ExpiresAt) {
		return time.Time{}, false
	}
	return k.ExpiresAt.Add(-ExpiringNotice), true
}

// rotationNoticeAt is when the rotation notice for the current secret falls
// due; ok is false when the key has no rotation period or the notice for
// this secret version was sent.
func (k *Key) rotationNoticeAt() (t time.Time, ok bool) {
	if k.RotationDays == nil || k.RotationNoticeVersion == k.SecretVersion {
		return time.Time{}, false
	}
	return k.SecretIssuedAt.Add(time.Duration(*k.RotationDays) * 24 * time.Hour), true
}

// DueAt lists what is due for k at now, in the order Sweep does it. A
// revoked key has nothing due. An expired key is reminded of nothing: once
// it is past expires_at only DutyExpire is announced, and no rotation is
// asked of a key that cannot be reset. A previous secret whose grace is over
// is forgotten only once an earlier retired version has left the secret
// store, so the record never has two versions to retire.
func (k *Key) DueAt(now time.Time) []Duty {
	if k.Status == StatusRevoked {
		return nil
	}
	var due []Duty
	if k.lifecycleOpen() {
		if k.Expired(now) {
			due = append(due, DutyExpire)
		} else {
			if t, ok := k.expiringNoticeAt(); ok && !now.Before(t) {
				due = append(due, DutyExpiringNotice)
			}
			if t, ok := k.rotationNoticeAt(); ok && !now.Before(t) {
				due = append(due, DutyRotationNotice)
			}
		}
	}
	if k.RetiringSecretVersionID != "" {
		due = append(due, DutyRetireSecret)
	} else if k.hasPrevious() && !now.Before(k.graceEnd()) {
		due = append(due, DutyEndGrace)
	}
	return due
}

// Sweep returns a copy of k with every duty due at now done, except
// DutyRetireSecret (see SecretRetired), and the duties it did, in order.
// When it did nothing it returns k itself and no duties. Expiring stamps
// UpdatedAt; notices and the end of a grace period change nothing a reader
// of the key sees (a previous secret past its grace is already hidden).
//
// Afterwards nothing of what it did is due again: NextDue of the copy lies
// after now, unless a version is left to retire (due at once).
func (k *Key) Sweep(now time.Time) (*Key, []Duty) {
	var done []Duty
	n := k
	for _, d := range k.DueAt(now) {
		if d == DutyRetireSecret {
			continue
		}
		if n == k {
			n = k.Clone()
		}
		switch d {
		case DutyExpire:
			n.Status = StatusExpired
			n.UpdatedAt = now
		case DutyExpiringNotice:
			n.ExpiringNoticeFor = *n.ExpiresAt
		case DutyRotationNotice:
			n.RotationNoticeVersion = n.SecretVersion
		case DutyEndGrace:
			n.RetiringSecretVersionID = n.PrevSecretVersionID
			n.PrevSecretHash, n.PrevSecretVersion, n.PrevSecretVersionID, n.PrevSecretExpiresAt = nil, 0, "", nil
		}
		done = append(done, d)
	}
	return n, done
}

// SecretRetired returns a copy of k that no longer lists versionID as a
// version to retire, once the caller has removed it from the secret store.
// A key listing another version (or none) is returned as is.
func (k *Key) SecretRetired(versionID string) *Key {
	if versionID == "" || k.RetiringSecretVersionID != versionID {
		return k
	}
	n := k.Clone()
	n.RetiringSecretVersionID = ""
	return n
}

// NextDue is the earliest instant at which something of DueAt is due for k
// (already past when something is due now), or nil when nothing ever will
// be unless the key changes. It depends on the record alone, so that the
// store can keep it beside the key on every write and a job can read only
// the keys that are due. A version left to retire is due at once (the zero
// time).
func (k *Key) NextDue() *time.Time {
	if k.Status == StatusRevoked {
		return nil
	}
	var next *time.Time
	consider := func(t time.Time) {
		if next == nil || t.Before(*next) {
			next = &t
		}
	}
	if k.lifecycleOpen() {
		if k.ExpiresAt != nil {
			consider(*k.ExpiresAt)
		}
		if t, ok := k.expiringNoticeAt(); ok {
			consider(t)
		}
		if t, ok := k.rotationNoticeAt(); ok {
			consider(t)
		}
	}
	if k.RetiringSecretVersionID != "" {
		consider(dueAtOnce)
	} else if k.hasPrevious() {
		consider(k.graceEnd())
	}
	return next
}
