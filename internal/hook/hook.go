// Package hook is the webhook domain: a merchant's endpoints, the deliveries
// of outbox events to them, their typed statuses, and the rules over them
// (what an endpoint receives, which secrets sign, what a merchant may
// register). Pure Go: no AWS types, no I/O. Sending is internal/webhook's;
// storing is internal/store's.
package hook

import (
	"slices"
	"strings"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// EndpointStatus says whether an endpoint receives deliveries.
type EndpointStatus string

// Endpoint statuses.
const (
	StatusEnabled  EndpointStatus = "enabled"
	StatusDisabled EndpointStatus = "disabled"
)

// ParseEndpointStatus reads a status a caller may set.
func ParseEndpointStatus(s string) (EndpointStatus, error) {
	switch st := EndpointStatus(s); st {
	case StatusEnabled, StatusDisabled:
		return st, nil
	}
	return "", key.Invalid("status must be enabled or disabled")
}

// Reasons an endpoint is disabled.
const (
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

// Endpoint is a merchant's webhook endpoint. Its signing secrets live in the
// secret store; the endpoint names their versions. While a rotation's
// overlap lasts (until SecretRotationEndsAt), the previous secret signs too.
type Endpoint struct {
	ID                   string
	MerchantID           string
	URL                  string
	EventTypes           []string
	Description          string
	Status               EndpointStatus
	DisabledReason       string
	SecretVersionID      string
	PrevSecretVersionID  string
	SecretRotationEndsAt *time.Time
	FailingSince         *time.Time
	CreatedAt            time.Time
	UpdatedAt            time.Time
	// Revision is the stored revision the endpoint was read at (0: new).
	Revision int64
}

// DeliveryStatus is where a delivery stands.
type DeliveryStatus string

// Delivery statuses.
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliverySucceeded DeliveryStatus = "succeeded"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Attempt is one try at sending a delivery.
type Attempt struct {
	At             time.Time
	ResponseStatus int
	LatencyMS      int64
	Error          string
	ResponseBody   string
}

// Delivery is one event to one endpoint. Its ID is the event's ID, which is
// the webhook-id every attempt carries.
type Delivery struct {
	ID         string
	EndpointID string
	MerchantID string
	EventType  string
	Status     DeliveryStatus
	Attempts   []Attempt
	// NextAttemptAt is when a pending delivery is next due. A worker claims
	// a delivery by moving it forward by a lease, so that a worker that dies
	// mid-attempt leaves it due again when the lease ends.
	NextAttemptAt *time.Time
	CreatedAt     time.Time
	// Revision is the stored revision the delivery was read at (0: new).
	Revision int64
}

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

// ValidateDescription checks an endpoint's description.
func ValidateDescription(d string) error {
	if len([]rune(d)) > MaxDescription {
		return key.Invalid("description must be at most %d characters", MaxDescription)
	}
	return key.ValidateText("description", d)
}

// ValidateOverlap checks how long a signing-secret rotation's previous
// secret keeps signing: 0..MaxOverlap.
func ValidateOverlap(d time.Duration) error {
	if d < 0 || d > MaxOverlap {
		return errOverlap()
	}
	return nil
}

// OverlapSeconds is the overlap given in whole seconds, checked as
// ValidateOverlap does.
func OverlapSeconds(n int) (time.Duration, error) {
	if n < 0 || n > int(MaxOverlap/time.Second) {
		return 0, errOverlap()
	}
	return time.Duration(n) * time.Second, nil
}

func errOverlap() error {
	return key.Invalid("overlap_seconds must be 0..%d", int(MaxOverlap/time.Second))
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
func Receives(e *Endpoint, ev *outbox.Event) bool {
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
func SigningVersions(e *Endpoint, now time.Time) []string {
	v := []string{e.SecretVersionID}
	if e.PrevSecretVersionID != "" && e.SecretRotationEndsAt != nil && now.Before(*e.SecretRotationEndsAt) {
		v = append(v, e.PrevSecretVersionID)
	}
	return v
}

// SecretName is the secret store's name for an endpoint's signing secret:
// its ID, in a store of its own (<SECRET_PREFIX>webhooks/, see
// internal/app/adapters).
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
