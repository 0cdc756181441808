package keysvc

import (
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/store"
)

const (
	resourceTypeKey = "key"
	outcomeSuccess  = "success"
	outcomeReplayed = "replayed"
)

// auditRecord is an audit record of an action on a key by a.
func auditRecord(a key.Actor, action, id, outcome string, now time.Time) *store.AuditRecord {
	return &store.AuditRecord{
		ID: key.NewID("aud_"), MerchantID: a.MerchantID, Actor: a.Subject, Role: a.Role,
		Action: action, ResourceType: resourceTypeKey, ResourceID: id, Outcome: outcome,
		SourceIP: a.SourceIP, RequestID: a.RequestID, CreatedAt: now,
	}
}

// extras bundles the event and audit record that ride with a key change.
func extras(a key.Actor, action, typ string, k *key.Key, now time.Time) store.Extras {
	x := store.Extras{Audit: auditRecord(a, action, k.ID, outcomeSuccess, now)}
	if typ != "" {
		x.Events = []outbox.Event{outbox.KeyEvent(typ, k, now)}
	}
	return x
}
