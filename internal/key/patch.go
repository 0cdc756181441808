package key

import (
	"net/netip"
	"slices"
	"time"
)

// Field is an optional patch field: Set is false when the caller left it out.
type Field[T any] struct {
	Set   bool
	Value T
}

// Patch holds the changes a caller asked for; only Set fields change.
type Patch struct {
	Name         Field[string]
	Scopes       Field[[]string]
	AllowedIPs   Field[[]string]
	AuthModes    Field[[]string]
	ExpiresAt    Field[*time.Time]
	RotationDays Field[*int]
	Status       Field[string]
}

// Change is the outcome of applying a patch.
type Change int

const (
	Unchanged Change = iota
	Updated
	Disabled // the patch disabled the key (announced as key.disabled, not key.updated)
)

// Apply validates p against k and returns the patched copy and what changed.
// A revoked key cannot be changed, and neither can an expired one: expiry is
// final, so no patch (one that moves expires_at included) brings a key back,
// whether or not the scheduled job has recorded the expiry yet.
func (k *Key) Apply(p Patch, now time.Time) (*Key, Change, error) {
	if err := k.CanChange(now); err != nil {
		return nil, Unchanged, err
	}
	n := k.Clone()
	var err error
	if p.Name.Set {
		if err = ValidateName(p.Name.Value); err != nil {
			return nil, Unchanged, err
		}
		n.Name = p.Name.Value
	}
	if p.Scopes.Set {
		if n.Scopes, err = ParseScopes(p.Scopes.Value); err != nil {
			return nil, Unchanged, err
		}
	}
	if p.AllowedIPs.Set {
		if n.AllowedIPs, err = ParseAllowedIPs(p.AllowedIPs.Value); err != nil {
			return nil, Unchanged, err
		}
	}
	if p.AuthModes.Set {
		if p.AuthModes.Value == nil {
			return nil, Unchanged, Invalid("auth_modes must not be empty")
		}
		if n.AuthModes, err = ParseAuthModes(p.AuthModes.Value); err != nil {
			return nil, Unchanged, err
		}
	}
	if p.ExpiresAt.Set {
		if !sameTime(p.ExpiresAt.Value, k.ExpiresAt) {
			if err = ValidateExpiry(p.ExpiresAt.Value, now); err != nil {
				return nil, Unchanged, err
			}
		}
		n.ExpiresAt = p.ExpiresAt.Value
	}
	if p.RotationDays.Set {
		if err = ValidateRotationDays(p.RotationDays.Value); err != nil {
			return nil, Unchanged, err
		}
		n.RotationDays = p.RotationDays.Value
	}
	if p.Status.Set {
		switch st := Status(p.Status.Value); st {
		case StatusActive, StatusDisabled:
			n.Status = st
		default:
			return nil, Unchanged, Invalid("status may only be set to \"active\" or \"disabled\"")
		}
	}
	if n.sameSettings(k) {
		return k, Unchanged, nil
	}
	n.UpdatedAt = now
	if n.Status == StatusDisabled && k.Status != StatusDisabled {
		return n, Disabled, nil
	}
	return n, Updated, nil
}

// CanChange says why a key cannot be patched as of now, or nil.
func (k *Key) CanChange(now time.Time) error { return k.final(now, "changed") }

// final refuses to alter a key that is revoked or expired as of now: both are
// for good.
func (k *Key) final(now time.Time, done string) error {
	switch s := k.EffectiveStatus(now); s {
	case StatusRevoked, StatusExpired:
		return Conflict("key %s is %s and cannot be %s", k.ID, s, done)
	}
	return nil
}

// ChangedFields names, as the API does, the settings that differ between k
// and n (k patched), in the API's order.
func (k *Key) ChangedFields(n *Key) []string {
	var out []string
	add := func(changed bool, name string) {
		if changed {
			out = append(out, name)
		}
	}
	add(k.Name != n.Name, "name")
	add(!slices.Equal(k.Scopes, n.Scopes), "scopes")
	add(!slices.EqualFunc(k.AllowedIPs, n.AllowedIPs, func(a, b netip.Prefix) bool { return a == b }), "allowed_ips")
	add(!slices.Equal(k.AuthModes, n.AuthModes), "auth_modes")
	add(!sameTime(k.ExpiresAt, n.ExpiresAt), "expires_at")
	add(!samePtr(k.RotationDays, n.RotationDays), "rotation_days")
	add(k.Status != n.Status, "status")
	return out
}

func (k *Key) sameSettings(o *Key) bool {
	return k.Name == o.Name && slices.Equal(k.Scopes, o.Scopes) &&
		slices.EqualFunc(k.AllowedIPs, o.AllowedIPs, func(a, b netip.Prefix) bool { return a == b }) &&
		slices.Equal(k.AuthModes, o.AuthModes) && sameTime(k.ExpiresAt, o.ExpiresAt) &&
		samePtr(k.RotationDays, o.RotationDays) && k.Status == o.Status
}

func sameTime(a, b *time.Time) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(*b))
}

func samePtr[T comparable](a, b *T) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}
