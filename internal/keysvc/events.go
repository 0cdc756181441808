package keysvc

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
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
	EventKeyLeaked   = "key.leaked"
	EventWebhookTest = "webhook.test"
	resourceTypeKey  = "key"
	outcomeSuccess   = "success"
	outcomeReplayed  = "replayed"
)

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
func KeyEvent(typ string, k *key.Key, now time.Time) store.Event {
	return keyEvent(typ, k, now, nil)
}

// keyEvent is KeyEvent with more members of data beside "key".
func keyEvent(typ string, k *key.Key, now time.Time, more map[string]any) store.Event {
	view := k.View(now)
	view.Revision = k.Revision + 1
	data := map[string]any{"key": view}
	maps.Copy(data, more)
	body, err := json.Marshal(Payload{Type: typ, Timestamp: EventTime(now), Data: data})
	if err != nil {
		panic("marshal event: " + err.Error()) // a View always marshals
	}
	return store.Event{ID: key.NewID("msg_"), Type: typ, MerchantID: k.MerchantID, ResourceID: k.ID, CreatedAt: now, Data: body}
}

// auditRecord is an audit record of an action on a key by a.
func auditRecord(a Actor, action, id, outcome string, now time.Time) *store.AuditRecord {
	return &store.AuditRecord{
		ID: key.NewID("aud_"), MerchantID: a.MerchantID, Actor: a.Subject, Role: a.Role,
		Action: action, ResourceType: resourceTypeKey, ResourceID: id, Outcome: outcome,
		SourceIP: a.SourceIP, RequestID: a.RequestID, CreatedAt: now,
	}
}

// extras bundles the event and audit record that ride with a key change.
func extras(a Actor, action, typ string, k *key.Key, now time.Time) store.Extras {
	x := store.Extras{Audit: auditRecord(a, action, k.ID, outcomeSuccess, now)}
	if typ != "" {
		x.Events = []store.Event{KeyEvent(typ, k, now)}
	}
	return x
}
