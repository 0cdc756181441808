// Package outbox is the outbox event: what a change announces to webhook
// endpoints, written in the same transaction as the change. It names the
// event types and builds the body every delivery of an event carries. Pure
// Go: no AWS types, no I/O.
package outbox

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/paykeys/paykeys/internal/key"
)

// Event types (README: Webhooks).
const (
	EventKeyCreated  = "key.created"
	EventKeyUpdated  = "key.updated"
	EventKeyReset    = "key.reset"
	EventKeyRevoked  = "key.revoked"
	EventKeyDisabled = "key.disabled"
	EventKeyExpiring = "key.expiring"
	EventKeyExpired  = "key.expired"
	EventRotationDue = "key.rotation_due"
	EventKeyLeaked   = "key.leaked" // README: Leak reports
	EventWebhookTest = "webhook.test"
)

// EventTypes are every event type, in the order the README lists them.
var EventTypes = []string{
	EventKeyCreated, EventKeyUpdated, EventKeyReset, EventKeyRevoked,
	EventKeyDisabled, EventKeyExpiring, EventKeyExpired, EventRotationDue,
	EventWebhookTest, EventKeyLeaked,
}

// Event is an outbox event, written in the same transaction as the change it
// announces. Data is the event's JSON body; it never holds a secret.
type Event struct {
	ID         string
	Type       string
	MerchantID string
	ResourceID string
	// EndpointID, when set, sends the event to that webhook endpoint only
	// (webhook.test), whatever its event types.
	EndpointID string
	CreatedAt  time.Time
	Data       []byte
}

// Payload is the body every webhook delivery of an event carries.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp EventTime `json:"timestamp"`
	Data      any       `json:"data"`
}

// EventTime is an event's timestamp: UTC with exactly three digits of
// milliseconds, as in 2026-11-23T10:00:00.123Z.
type EventTime time.Time

const eventTimeLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes the time in UTC with millisecond precision.
func (t EventTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + time.Time(t).UTC().Format(eventTimeLayout) + `"`), nil
}

// UnmarshalJSON reads an RFC 3339 time.
func (t *EventTime) UnmarshalJSON(b []byte) error {
	var v time.Time
	if err := v.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = EventTime(v)
	return nil
}

// KeyEvent builds the outbox event announcing a change to k, where k is the
// key as the change writes it, before the store bumps its revision: the
// event's data.key.revision is k.Revision+1, the revision after the change,
// so a receiver can keep the newest state of a key. It carries the key's
// public view only, never a secret.
func KeyEvent(typ string, k *key.Key, now time.Time) Event {
	return KeyEventWith(typ, k, now, nil)
}

// KeyEventWith is KeyEvent with more members of data beside "key" (the
// URL, source and action of key.leaked).
func KeyEventWith(typ string, k *key.Key, now time.Time, more map[string]any) Event {
	view := k.View(now)
	view.Revision = k.Revision + 1
	data := map[string]any{"key": view}
	maps.Copy(data, more)
	body, err := json.Marshal(Payload{Type: typ, Timestamp: EventTime(now), Data: data})
	if err != nil {
		panic("marshal event: " + err.Error()) // a View always marshals
	}
	return Event{ID: key.NewID("msg_"), Type: typ, MerchantID: k.MerchantID, ResourceID: k.ID, CreatedAt: now, Data: body}
}

// Extras ride in the same transaction as a key write: every change that
// must notify someone or be audited is written atomically with it. Each of
// them must belong to the key's merchant.
type Extras struct {
	Events      []Event
	Audit       *key.AuditRecord
	Idempotency *key.IdempotencyRecord

	// KeyLimit applies to a create: the new key is counted among its
	// merchant's keys that are not revoked, and when KeyLimit of them are
	// already counted the create fails (0: no limit).
	KeyLimit int
	// Revokes marks an update that revokes a key that was not revoked: the
	// key stops counting against its merchant's limit.
	Revokes bool
}
