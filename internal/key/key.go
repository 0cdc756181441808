// Package key is the domain of API keys: token formats, the Key type, its
// lifecycle rules, scopes, IP allowlists and the verification decision. It is
// pure Go: no AWS types and no I/O.
package key

import (
	"net/netip"
	"slices"
	"time"
	"unicode"
	"unicode/utf8"
)

type (
	Environment string
	Currency    string
	Status      string
	AuthMode    string
)

const (
	EnvTest Environment = envTest
	EnvLive Environment = envLive

	CurrencyFiat   Currency = "fiat"
	CurrencyCrypto Currency = "crypto"

	StatusActive   Status = "active"
	StatusDisabled Status = "disabled"
	StatusExpired  Status = "expired"
	StatusRevoked  Status = "revoked"

	ModeBearer AuthMode = "bearer"
	ModeHMAC   AuthMode = "hmac"
)

// Limits on what a key may hold.
const (
	MaxNameLen       = 100
	MaxScopes        = 50
	MaxScopeLen      = 100
	MaxAllowedIPs    = 100
	MaxRotationDays  = 3650
	MaxGracePeriod   = 7 * 24 * time.Hour
	ExpiringNotice   = 7 * 24 * time.Hour
	DefaultListLimit = 50
	MaxListLimit     = 100
)

// Key is an API key's metadata. It never holds a secret, only hashes of the
// current secret and, during a grace period, of the previous one.
type Key struct {
	ID           string
	MerchantID   string
	Name         string
	Environment  Environment
	Currency     Currency
	Scopes       []string
	AllowedIPs   []netip.Prefix
	AuthModes    []AuthMode
	Status       Status
	ExpiresAt    *time.Time
	RotationDays *int

	SecretVersion   int
	SecretVersionID string // the secret store's version of the current secret
	SecretHash      []byte
	SecretHint      string
	SecretIssuedAt  time.Time

	PrevSecretVersion   int
	PrevSecretVersionID string
	PrevSecretHash      []byte
	PrevSecretExpiresAt *time.Time

	// PublicKeys are the registered RFC 9421 verification keys (publickey.go).
	PublicKeys []PublicKey

	// Scheduled lifecycle bookkeeping (due.go): the expiry a key.expiring
	// notice was sent for (zero: none), the secret version a
	// key.rotation_due notice was sent for (0: none), and a previous
	// secret's version the record no longer trusts whose staging labels are
	// still to be removed from the secret store.
	ExpiringNoticeFor       time.Time
	RotationNoticeVersion   int
	RetiringSecretVersionID string
	// LeakedSecretVersion is the secret version a leak report last acted
	// on (0: none), so that a repeated report changes nothing (leak.go).
	LeakedSecretVersion int

	CreatedAt  time.Time
	UpdatedAt  time.Time
	LastUsedAt *time.Time
	LastUsedIP string

	// Revision guards every update (optimistic concurrency).
	Revision int64
}

// ParseEnvironment validates an environment name.
func ParseEnvironment(s string) (Environment, error) {
	switch e := Environment(s); e {
	case EnvTest, EnvLive:
		return e, nil
	}
	return "", Invalid("environment must be \"test\" or \"live\"")
}

// ParseCurrency validates a currency kind; empty means fiat.
func ParseCurrency(s string) (Currency, error) {
	switch c := Currency(s); c {
	case "":
		return CurrencyFiat, nil
	case CurrencyFiat, CurrencyCrypto:
		return c, nil
	}
	return "", Invalid("currency must be \"fiat\" or \"crypto\"")
}

// ParseStatus validates a status filter.
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case StatusActive, StatusDisabled, StatusExpired, StatusRevoked:
		return st, nil
	}
	return "", Invalid("status must be one of active, disabled, expired, revoked")
}

// ValidateName checks a key's display name: 1..MaxNameLen characters of
// valid UTF-8 with at least one visible character, and no control or format
// characters (Unicode Cc and Cf: no bidi overrides, no zero-width characters),
// so that a name shows as what it is.
func ValidateName(name string) error {
	n := utf8.RuneCountInString(name)
	if !utf8.ValidString(name) || n < 1 || n > MaxNameLen {
		return Invalid("name must be 1..%d characters of valid UTF-8", MaxNameLen)
	}
	if err := checkText("name", name); err != nil {
		return err
	}
	if !visible(name) {
		return Invalid("name must have at least one visible character")
	}
	return nil
}

// ValidateText checks free text a caller names a thing with (a webhook
// endpoint's description): valid UTF-8 with no control or format characters.
func ValidateText(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid("%s must be valid UTF-8", field)
	}
	return checkText(field, s)
}

func checkText(field, s string) error {
	for _, r := range s {
		if unicode.Is(unicode.Cc, r) || unicode.Is(unicode.Cf, r) {
			return Invalid("%s must not contain control or format characters (such as line breaks, bidi overrides or zero-width characters)", field)
		}
	}
	return nil
}

// visible reports whether s has a character that shows: a graphic one that
// is not a space.
func visible(s string) bool {
	for _, r := range s {
		if unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Mn, r) && !unicode.Is(unicode.Me, r) {
			return true
		}
	}
	return false
}

// ParseAuthModes validates auth modes; nil means both.
func ParseAuthModes(modes []string) ([]AuthMode, error) {
	if modes == nil {
		return []AuthMode{ModeBearer, ModeHMAC}, nil
	}
	if len(modes) == 0 {
		return nil, Invalid("auth_modes must not be empty")
	}
	var out []AuthMode
	for _, m := range modes {
		mode := AuthMode(m)
		if mode != ModeBearer && mode != ModeHMAC && mode != ModeSignature {
			return nil, Invalid("auth_modes may only contain \"bearer\", \"hmac\" and \"signature\"")
		}
		if !slices.Contains(out, mode) {
			out = append(out, mode)
		}
	}
	return out, nil
}

// ValidateExpiry checks that an expiry lies in the future.
func ValidateExpiry(t *time.Time, now time.Time) error {
	if t != nil && !t.After(now) {
		return Invalid("expires_at must be in the future")
	}
	return nil
}

// ValidateRotationDays checks the rotation period.
func ValidateRotationDays(d *int) error {
	if d != nil && (*d < 1 || *d > MaxRotationDays) {
		return Invalid("rotation_days must be null or 1..%d", MaxRotationDays)
	}
	return nil
}

// EffectiveStatus is the status as of now: an active or disabled key past its
// expiry is expired even before the scheduled sweep records it.
func (k *Key) EffectiveStatus(now time.Time) Status {
	if (k.Status == StatusActive || k.Status == StatusDisabled) && k.Expired(now) {
		return StatusExpired
	}
	return k.Status
}

// Expired reports whether the key's expiry has passed.
func (k *Key) Expired(now time.Time) bool {
	return k.ExpiresAt != nil && !now.Before(*k.ExpiresAt)
}

// InGrace reports whether the previous secret still works at now.
func (k *Key) InGrace(now time.Time) bool {
	return len(k.PrevSecretHash) > 0 && k.PrevSecretExpiresAt != nil && now.Before(*k.PrevSecretExpiresAt)
}

// AllowsMode reports whether the key may authenticate with mode.
func (k *Key) AllowsMode(m AuthMode) bool { return slices.Contains(k.AuthModes, m) }

// Clone returns a deep copy, so callers can change one without touching the other.
func (k *Key) Clone() *Key {
	c := *k
	c.Scopes = slices.Clone(k.Scopes)
	c.AllowedIPs = slices.Clone(k.AllowedIPs)
	c.AuthModes = slices.Clone(k.AuthModes)
	c.SecretHash = slices.Clone(k.SecretHash)
	c.PrevSecretHash = slices.Clone(k.PrevSecretHash)
	c.ExpiresAt = clonePtr(k.ExpiresAt)
	c.RotationDays = clonePtr(k.RotationDays)
	c.PrevSecretExpiresAt = clonePtr(k.PrevSecretExpiresAt)
	c.LastUsedAt = clonePtr(k.LastUsedAt)
	c.PublicKeys = slices.Clone(k.PublicKeys)
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}
