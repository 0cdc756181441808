package keysvc

import (
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// resourceTypeKey is the resource type of a key's audit records.
const resourceTypeKey = "key"

// extras bundles the event and audit record that ride with a key change.
func extras(a key.Actor, action, typ string, k *key.Key, now time.Time) outbox.Extras {
	x := outbox.Extras{Audit: a.Audit(action, resourceTypeKey, k.ID, key.OutcomeSuccess, now)}
	if typ != "" {
		x.Events = []outbox.Event{outbox.KeyEvent(typ, k, now)}
	}
	return x
}
