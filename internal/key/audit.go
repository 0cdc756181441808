package key

import "time"

// AuditRecord is one entry of a merchant's audit log: who did what to which
// resource, and how it ended.
type AuditRecord struct {
	ID           string
	MerchantID   string
	Actor        string
	Role         string
	Action       string
	ResourceType string
	ResourceID   string
	Outcome      string
	SourceIP     string
	RequestID    string
	CreatedAt    time.Time
	// Changes names the fields an update touched (API names), if any.
	Changes []string
	// Count is how many attempts a coalesced record of refused changes
	// stands for; 1 for every other record.
	Count int
}

// Audit outcomes.
const (
	OutcomeSuccess  = "success"
	OutcomeReplayed = "replayed" // an idempotent create answered again
	OutcomeDenied   = "denied"
	OutcomeConflict = "conflict"
)

// Audit returns a new audit record of a's action on a resource.
func (a Actor) Audit(action, resourceType, resourceID, outcome string, now time.Time) *AuditRecord {
	return &AuditRecord{
		ID: NewID("aud_"), MerchantID: a.MerchantID, Actor: a.Subject, Role: a.Role,
		Action: action, ResourceType: resourceType, ResourceID: resourceID, Outcome: outcome,
		SourceIP: a.SourceIP, RequestID: a.RequestID, CreatedAt: now,
	}
}
