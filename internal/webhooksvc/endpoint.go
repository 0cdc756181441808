// Package webhooksvc manages merchants' webhook endpoints: registration,
// changes, signing-secret rotation with an overlap, test events and
// redelivery. Delivery itself is internal/delivery's.
package webhooksvc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/webhook"
)

// Endpoint statuses and the reasons an endpoint is disabled.
const (
	StatusEnabled  = "enabled"
	StatusDisabled = "disabled"

	ReasonManual  = "manual"
	ReasonGone    = "gone"    // the endpoint answered 410
	ReasonFailing = "failing" // every attempt failed for FailingFor
)

// FailingFor is how long an endpoint may fail every attempt before it is
// disabled.
const FailingFor = 5 * 24 * time.Hour

// Limits on what a merchant registers.
const (
	MaxDescription        = 500
	MaxEventTypes         = 20
	DefaultOverlap        = 24 * time.Hour
	MaxOverlap            = 7 * 24 * time.Hour
	DefaultMaxPerMerchant = 50
)

// EventTypes are the events an endpoint may subscribe to by name.
var EventTypes = outbox.EventTypes

// patterns an endpoint may subscribe with besides the names.
var patterns = []string{"*", "key.*"}

// ParseEventTypes checks a subscription: names from EventTypes or the
// patterns "*" and "key.*", at least one, duplicates dropped. nil (the
// field omitted) is everything.
func ParseEventTypes(ts []string, given bool) ([]string, error) {
	if !given {
		return []string{"*"}, nil
	}
	if len(ts) == 0 {
		return nil, key.Invalid("event_types must not be empty (omit it to receive every event)")
	}
	if len(ts) > MaxEventTypes {
		return nil, key.Invalid("event_types may hold at most %d entries", MaxEventTypes)
	}
	out := make([]string, 0, len(ts))
	for i, t := range ts {
		if !slices.Contains(EventTypes, t) && !slices.Contains(patterns, t) {
			return nil, key.Invalid("event_types[%d] is not a known event type (known: %s, or the patterns * and key.*)", i, strings.Join(EventTypes, ", "))
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return out, nil
}

// Matches reports whether a subscription covers an event type.
func Matches(subscribed []string, typ string) bool {
	for _, s := range subscribed {
		switch {
		case s == "*", s == typ:
			return true
		case strings.HasSuffix(s, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(s, "*")):
			return true
		}
	}
	return false
}

// Receives reports whether an event goes to e: enabled, and subscribed to
// it, or the event is addressed to e alone.
func Receives(e *store.Endpoint, ev *outbox.Event) bool {
	if e.MerchantID != ev.MerchantID || e.Status != StatusEnabled {
		return false
	}
	if ev.EndpointID != "" {
		return ev.EndpointID == e.ID
	}
	return Matches(e.EventTypes, ev.Type)
}

// SigningVersions are the secret versions that sign at now: the current
// one, and the previous one while a rotation's overlap lasts.
func SigningVersions(e *store.Endpoint, now time.Time) []string {
	v := []string{e.SecretVersionID}
	if e.PrevSecretVersionID != "" && e.SecretRotationEndsAt != nil && now.Before(*e.SecretRotationEndsAt) {
		v = append(v, e.PrevSecretVersionID)
	}
	return v
}

// SecretName is the secret store's name for an endpoint's signing secret:
// its ID, in a store of its own (adapters: <prefix>webhooks/).
func SecretName(endpointID string) string { return endpointID }

// ValidID reports whether s has the shape of an endpoint ID.
func ValidID(s string) bool { return validID(s, "we_") }

// ValidDeliveryID reports whether s has the shape of a delivery (event) ID.
func ValidDeliveryID(s string) bool { return validID(s, "msg_") }

func validID(s, prefix string) bool {
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok || len(rest) != 27 {
		return false
	}
	for _, r := range rest {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// View is an endpoint as the API shows it. It never holds a secret.
type View struct {
	ID                   string     `json:"id"`
	URL                  string     `json:"url"`
	EventTypes           []string   `json:"event_types"`
	Description          string     `json:"description"`
	Status               string     `json:"status"`
	DisabledReason       *string    `json:"disabled_reason"`
	SecretRotationEndsAt *time.Time `json:"secret_rotation_ends_at"`
	CreatedAt            time.Time  `json:"created_at"`
	UpdatedAt            time.Time  `json:"updated_at"`
}

// ViewOf returns e's view at now; an overlap that has ended is not shown.
func ViewOf(e *store.Endpoint, now time.Time) View {
	v := View{
		ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description, Status: e.Status,
		CreatedAt: e.CreatedAt.UTC().Truncate(time.Second), UpdatedAt: e.UpdatedAt.UTC().Truncate(time.Second),
	}
	if e.DisabledReason != "" {
		r := e.DisabledReason
		v.DisabledReason = &r
	}
	if t := e.SecretRotationEndsAt; t != nil && now.Before(*t) {
		u := t.UTC().Truncate(time.Second)
		v.SecretRotationEndsAt = &u
	}
	return v
}

// DeliveryView is a delivery as the API shows it.
type DeliveryView struct {
	ID            string                  `json:"id"`
	EndpointID    string                  `json:"endpoint_id"`
	EventType     string                  `json:"event_type"`
	Status        string                  `json:"status"`
	Attempts      []store.DeliveryAttempt `json:"attempts"`
	NextAttemptAt *time.Time              `json:"next_attempt_at"`
	CreatedAt     time.Time               `json:"created_at"`
}

// DeliveryViewOf returns d's view.
func DeliveryViewOf(d *store.Delivery) DeliveryView {
	v := DeliveryView{
		ID: d.ID, EndpointID: d.EndpointID, EventType: d.EventType, Status: d.Status,
		Attempts: d.Attempts, CreatedAt: d.CreatedAt.UTC(),
	}
	if v.Attempts == nil {
		v.Attempts = []store.DeliveryAttempt{}
	}
	if d.Status == store.DeliveryPending && d.NextAttemptAt != nil {
		t := d.NextAttemptAt.UTC()
		v.NextAttemptAt = &t
	}
	return v
}

// URLs checks endpoint URLs with a webhook sender's registration check, as
// 400s.
type URLs struct{ Sender *webhook.Sender }

// CheckURL refuses a URL the sender would not deliver to.
func (u URLs) CheckURL(ctx context.Context, raw string) error {
	err := u.Sender.CheckHost(ctx, raw)
	// The sender's messages name the host; a message never echoes what the
	// caller sent, so these say what is wrong without it.
	switch {
	case errors.Is(err, webhook.ErrInvalidURL):
		return key.Invalid("%s", err.Error())
	case errors.Is(err, webhook.ErrForbiddenAddress):
		return key.Invalid("url host is, or resolves to, a private, loopback or reserved address")
	case errors.Is(err, webhook.ErrUnresolvable):
		return key.Invalid("url host does not resolve")
	}
	return err
}
