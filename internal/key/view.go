package key

import "time"

// View is a key as the API and webhook events show it (README: Management API).
type View struct {
	ID                      string     `json:"id"`
	MerchantID              string     `json:"merchant_id"`
	Name                    string     `json:"name"`
	Environment             string     `json:"environment"`
	Currency                string     `json:"currency"`
	Scopes                  []string   `json:"scopes"`
	AllowedIPs              []string   `json:"allowed_ips"`
	AuthModes               []AuthMode `json:"auth_modes"`
	Status                  Status     `json:"status"`
	ExpiresAt               *time.Time `json:"expires_at"`
	RotationDays            *int       `json:"rotation_days"`
	SecretVersion           int        `json:"secret_version"`
	SecretHint              string     `json:"secret_hint"`
	Revision                int64      `json:"revision"`
	PreviousSecretExpiresAt *time.Time `json:"previous_secret_expires_at"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	LastUsedAt              *time.Time `json:"last_used_at"`
}

// View renders k as of now, in UTC with second precision.
func (k *Key) View(now time.Time) View {
	v := View{
		ID:            k.ID,
		MerchantID:    k.MerchantID,
		Name:          k.Name,
		Environment:   string(k.Environment),
		Currency:      string(k.Currency),
		Scopes:        k.Scopes,
		AllowedIPs:    PrefixStrings(k.AllowedIPs),
		AuthModes:     k.AuthModes,
		Status:        k.EffectiveStatus(now),
		ExpiresAt:     utc(k.ExpiresAt),
		RotationDays:  k.RotationDays,
		SecretVersion: k.SecretVersion,
		SecretHint:    k.SecretHint,
		Revision:      k.Revision,
		CreatedAt:     k.CreatedAt.UTC().Truncate(time.Second),
		UpdatedAt:     k.UpdatedAt.UTC().Truncate(time.Second),
		LastUsedAt:    utc(k.LastUsedAt),
	}
	if k.InGrace(now) {
		v.PreviousSecretExpiresAt = utc(k.PrevSecretExpiresAt)
	}
	if v.Scopes == nil {
		v.Scopes = []string{}
	}
	return v
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC().Truncate(time.Second)
	return &u
}
