package key

import (
	"crypto/subtle"
	"fmt"
	"time"
)

// LeakPolicy is what a leak report does to a live key whose current secret
// leaked; a test key's is always revoked.
type LeakPolicy string

// Leak policies.
const (
	LeakDisable LeakPolicy = "disable" // the default: the merchant decides what next
	LeakRevoke  LeakPolicy = "revoke"
)

// ParseLeakPolicy checks a configured policy; "" is LeakDisable.
func ParseLeakPolicy(s string) (LeakPolicy, error) {
	switch p := LeakPolicy(s); p {
	case "":
		return LeakDisable, nil
	case LeakDisable, LeakRevoke:
		return p, nil
	}
	return "", fmt.Errorf(`must be "disable" or "revoke", not %q`, s)
}

// LeakAction says what a leak report did, in a key.leaked event.
type LeakAction string

// Leak actions: the key was revoked, or disabled; a leaked previous secret
// is revoked alone (its grace ends), the key keeps its current one.
const (
	LeakRevoked  LeakAction = "revoked"
	LeakDisabled LeakAction = "disabled"
)

// CodeLeaked is the usage counter a leak report adds to, on the day of the
// report, beside the decision codes.
const CodeLeaked Code = "LEAKED"

// LeakOutcome is what a reported secret means for its key.
type LeakOutcome struct {
	// Ours: the secret is the key's current one, its previous one, or a
	// revoked key's last: a true positive, whatever the key's state.
	Ours bool
	// Changed is the key after the change the report makes; nil when there
	// is nothing to change (not ours, already handled, or the secret no
	// longer works anyway), and then nothing is announced either.
	Changed *Key
	Action  LeakAction
}

// Leak decides what a leak report of the secret whose Hash is hash does to
// k. The key's current secret: a test key is revoked, a live key gets
// policy, once per secret version (LeakedSecretVersion), so a repeated
// report changes nothing even after the merchant enabled the key again. A
// previous secret inside its grace period: the grace ends now, and the
// current secret is left alone. A secret that already works nowhere (a
// revoked or expired key's, a previous one past its grace) changes nothing.
func (k *Key) Leak(hash []byte, policy LeakPolicy, now time.Time) LeakOutcome {
	current := subtle.ConstantTimeCompare(hash, k.SecretHash) == 1
	previous := len(k.PrevSecretHash) > 0 && subtle.ConstantTimeCompare(hash, k.PrevSecretHash) == 1
	out := LeakOutcome{Ours: current || previous}
	status := k.EffectiveStatus(now)
	switch {
	case !out.Ours || status == StatusRevoked || status == StatusExpired:
		return out
	case previous && !current:
		if !k.InGrace(now) {
			return out
		}
		n := k.Clone()
		n.PrevSecretExpiresAt = &now
		n.UpdatedAt = now
		out.Changed, out.Action = n, LeakRevoked
		return out
	case k.LeakedSecretVersion == k.SecretVersion:
		return out // reported before
	}
	var n *Key
	if k.Environment == EnvTest || policy == LeakRevoke {
		n, out.Action = k.Revoke(now), LeakRevoked
	} else {
		n, out.Action = k.Clone(), LeakDisabled
		n.Status = StatusDisabled
		n.UpdatedAt = now
	}
	n.LeakedSecretVersion = k.SecretVersion
	out.Changed = n
	return out
}
