package keysvc

import (
	"encoding/json"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// Event types (API.md §4).
const (
	EventKeyCreated  = "key.created"
	EventKeyUpdated  = "key.updated"
	EventKeyReset    = "key.reset"
	EventKeyRevoked  = "key.revoked"
	EventKeyDisabled = "key.disabled"
	EventKeyExpiring = "key.expiring"
	EventKeyExpired  = "key.expired"
	EventRotationDue = "key.rotation_due"
	EventWebhookTest = "webhook.test"
	resourceTypeKey  = "key"
	outcomeSuccess   = "success"
)

// Payload is the body every webhook delivery of an event carries.
type Payload struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      any       `json:"data"`
}

// KeyEvent builds the outbox event announcing a change to k. It carries the
// key's public view only, never a secret.
func KeyEvent(typ string, k *key.Key, now time.Time) store.Event {
	ts := now.UTC().Truncate(time.Second)
	body, err := json.Marshal(Payload{Type: typ, Timestamp: ts, Data: map[string]any{"key": k.View(now)}})
	if err != nil {
		panic("marshal event: " + err.Error()) // a View always marshals
	}
	return store.Event{ID: key.NewID("msg_"), Type: typ, MerchantID: k.MerchantID, ResourceID: k.ID, CreatedAt: now, Data: body}
}

// extras bundles the event and audit record that ride with a key change.
func extras(a Actor, action, typ string, k *key.Key, now time.Time) store.Extras {
	x := store.Extras{Audit: &store.AuditRecord{
		ID: key.NewID("aud_"), MerchantID: a.MerchantID, Actor: a.Subject, Role: a.Role,
		Action: action, ResourceType: resourceTypeKey, ResourceID: k.ID, Outcome: outcomeSuccess,
		SourceIP: a.SourceIP, RequestID: a.RequestID, CreatedAt: now,
	}}
	if typ != "" {
		x.Events = []store.Event{KeyEvent(typ, k, now)}
	}
	return x
}
