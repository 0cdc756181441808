package key

import (
	"crypto/subtle"
	"time"
)

// NewParams are the validated inputs of a new key.
type NewParams struct {
	MerchantID   string
	Name         string
	Environment  Environment
	Currency     Currency
	Scopes       []string
	AllowedIPs   []string
	AuthModes    []string // nil: both
	ExpiresAt    *time.Time
	RotationDays *int
	Brand        Brand // of the secret; "" is DefaultBrand
}

// Issued is a key together with its secret, as seen only at create and reset.
type Issued struct {
	Key    *Key
	Secret string
}

// New validates p and mints a key with its first secret. versionID is the
// secret store's version ID for that secret.
func New(p NewParams, versionID string, now time.Time) (Issued, error) {
	k := &Key{
		MerchantID:   p.MerchantID,
		Name:         p.Name,
		Environment:  p.Environment,
		Currency:     p.Currency,
		ExpiresAt:    p.ExpiresAt,
		RotationDays: p.RotationDays,
		Status:       StatusActive,
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	var err error
	if err = ValidateName(p.Name); err != nil {
		return Issued{}, err
	}
	if _, err = ParseEnvironment(string(p.Environment)); err != nil {
		return Issued{}, err
	}
	if k.Currency, err = ParseCurrency(string(p.Currency)); err != nil {
		return Issued{}, err
	}
	if k.Scopes, err = ParseScopes(p.Scopes); err != nil {
		return Issued{}, err
	}
	if k.AllowedIPs, err = ParseAllowedIPs(p.AllowedIPs); err != nil {
		return Issued{}, err
	}
	if k.AuthModes, err = ParseAuthModes(p.AuthModes); err != nil {
		return Issued{}, err
	}
	if err = ValidateExpiry(p.ExpiresAt, now); err != nil {
		return Issued{}, err
	}
	if err = ValidateRotationDays(p.RotationDays); err != nil {
		return Issued{}, err
	}
	k.ID = NewClientID(k.Environment)
	secret := p.Brand.NewSecret(k.ID)
	k.setSecret(secret, 1, versionID, now)
	return Issued{Key: k, Secret: secret}, nil
}

func (k *Key) setSecret(secret string, version int, versionID string, now time.Time) {
	k.SecretVersion = version
	k.SecretVersionID = versionID
	k.SecretHash = Hash(secret)
	k.SecretHint = Hint(secret)
	k.SecretIssuedAt = now
}

// CanReset says why a key's secret cannot be reset, or nil.
func (k *Key) CanReset(now time.Time) error { return k.final(now, "reset") }

// ValidateGrace checks a reset's grace period.
func ValidateGrace(grace time.Duration) error {
	if grace < 0 || grace > MaxGracePeriod {
		return Invalid("grace_period_seconds must be 0..%d", int(MaxGracePeriod/time.Second))
	}
	return nil
}

// Reset returns a copy of k with a new secret of brand b. The old secret
// keeps working for grace (never past the key's expiry); an older previous
// secret ends at once.
func (k *Key) Reset(b Brand, grace time.Duration, versionID string, now time.Time) (Issued, error) {
	if err := ValidateGrace(grace); err != nil {
		return Issued{}, err
	}
	if err := k.CanReset(now); err != nil {
		return Issued{}, err
	}
	n := k.Clone()
	n.PrevSecretHash, n.PrevSecretVersion, n.PrevSecretVersionID, n.PrevSecretExpiresAt = nil, 0, "", nil
	end := now.Add(grace)
	if k.ExpiresAt != nil && end.After(*k.ExpiresAt) {
		end = *k.ExpiresAt
	}
	if end.After(now) {
		n.PrevSecretHash = k.SecretHash
		n.PrevSecretVersion = k.SecretVersion
		n.PrevSecretVersionID = k.SecretVersionID
		n.PrevSecretExpiresAt = &end
	}
	secret := b.NewSecret(k.ID)
	n.setSecret(secret, k.SecretVersion+1, versionID, now)
	n.UpdatedAt = now
	return Issued{Key: n, Secret: secret}, nil
}

// Revoke returns a revoked copy of k. It keeps the hash of the last secret so
// that a revoked secret is still recognised, and denied, as revoked.
func (k *Key) Revoke(now time.Time) *Key {
	n := k.Clone()
	n.Status = StatusRevoked
	n.PrevSecretHash, n.PrevSecretVersion, n.PrevSecretVersionID, n.PrevSecretExpiresAt = nil, 0, "", nil
	n.UpdatedAt = now
	return n
}

// SecretMatch says which of a key's secrets a presented secret is.
type SecretMatch int

const (
	NoMatch SecretMatch = iota
	MatchCurrent
	MatchPrevious
)

// MatchSecret compares the hash of a presented secret with the key's current
// one and, inside a grace period, its previous one, in constant time.
func (k *Key) MatchSecret(hash []byte, now time.Time) SecretMatch {
	cur := subtle.ConstantTimeCompare(hash, k.SecretHash)
	prev := 0
	if k.InGrace(now) {
		prev = subtle.ConstantTimeCompare(hash, k.PrevSecretHash)
	}
	switch {
	case cur == 1:
		return MatchCurrent
	case prev == 1:
		return MatchPrevious
	}
	return NoMatch
}
