package key

import "time"

// IdempotencyRecord remembers the outcome of a create made with an
// Idempotency-Key header, for 24 hours. It is scoped to the merchant and the
// signed-in user (Subject, the JWT sub): another user's record with the same
// Key is another record. Key is the header's value; RequestHash identifies
// the request body. Response is stored as is, so it must not contain a
// secret: the secret is found again through KeyID and SecretVersionID.
type IdempotencyRecord struct {
	MerchantID      string
	Subject         string
	Key             string
	RequestHash     []byte
	KeyID           string
	SecretVersionID string
	Response        []byte
	CreatedAt       time.Time
}

// ListFilter selects and pages a merchant's keys. Zero values select
// everything: any environment, any status, DefaultListLimit keys, the first
// page, and the current time.
type ListFilter struct {
	Environment Environment
	// Status is the effective status at Now: an active or disabled key whose
	// expiry has passed counts as expired.
	Status Status
	Limit  int
	Cursor string
	Now    time.Time
}

// UsageDay is one key's decision counts on one UTC day.
type UsageDay struct {
	Date    string           // YYYY-MM-DD, UTC
	Allowed int64            // allowed decisions
	Denied  map[string]int64 // denied decisions by reason code (Code)
}
