package webhooksvc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/retry"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/webhook"
)

// Store is the metadata store as this package uses it.
type Store interface {
	SaveEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord) error
	CreateEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord, limit int) error
	DeleteEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord) error
	GetEndpoint(ctx context.Context, id string) (*hook.Endpoint, error)
	ListEndpoints(ctx context.Context, merchantID string, limit int, cursor string) ([]*hook.Endpoint, string, error)
	AllEndpoints(ctx context.Context, merchantID string) ([]*hook.Endpoint, error)
	GetDelivery(ctx context.Context, endpointID, id string) (*hook.Delivery, error)
	SaveDelivery(ctx context.Context, d *hook.Delivery) error
	RetryDelivery(ctx context.Context, d *hook.Delivery, a *key.AuditRecord) error
	ListDeliveries(ctx context.Context, merchantID, endpointID string, limit int, cursor string) ([]*hook.Delivery, string, error)
	SaveTestEvent(ctx context.Context, e outbox.Event, d *hook.Delivery, a *key.AuditRecord) error
	EndedOverlaps(ctx context.Context, now time.Time, limit int) ([]*hook.Endpoint, error)
}

// Secrets is the secret store as this package uses it: endpoints' signing
// secrets, one secret per endpoint with a version per rotation.
type Secrets interface {
	Create(ctx context.Context, name, versionID, value string) error
	Stage(ctx context.Context, name, versionID, value string) error
	Promote(ctx context.Context, name, currentVersionID, previousVersionID string) error
	Delete(ctx context.Context, name string) error
}

// URLChecker refuses URLs that must not receive webhooks: wrong scheme, or
// a host that resolves to an address the sender will not dial.
type URLChecker interface {
	CheckURL(ctx context.Context, raw string) error
}

// Sender attempts a delivery at once (test and retry), if the service has one.
type Sender interface {
	Attempt(ctx context.Context, d *hook.Delivery) (*hook.Delivery, error)
}

// Service runs endpoint operations.
type Service struct {
	Store   Store
	Secrets Secrets
	URLs    URLChecker
	Sender  Sender // optional: without it, test and retry deliveries wait for the worker
	Log     *slog.Logger
	Now     func() time.Time

	MaxPerMerchant int
	MaxAttempts    int // optimistic-concurrency retries
}

// New returns a Service with production defaults.
func New(st Store, sec Secrets, urls URLChecker, log *slog.Logger) *Service {
	return &Service{Store: st, Secrets: sec, URLs: urls, Log: log, Now: time.Now,
		MaxPerMerchant: hook.DefaultMaxPerMerchant, MaxAttempts: 8}
}

// CreateParams are a new endpoint's settings. EventTypes nil means the field
// was omitted.
type CreateParams struct {
	URL         string
	EventTypes  []string
	Description string
}

// Patch changes an endpoint; nil fields stay as they are.
type Patch struct {
	URL         *string
	EventTypes  *[]string
	Description *string
	Status      *string
}

// audit is the audit record of a's successful action on an endpoint.
func audit(a key.Actor, action, id string, now time.Time) *key.AuditRecord {
	return a.Audit(action, resourceTypeEndpoint, id, key.OutcomeSuccess, now)
}

// resourceTypeEndpoint is the resource type of an endpoint's audit records.
const resourceTypeEndpoint = "webhook_endpoint"

// Create registers an endpoint and returns it with its signing secret,
// shown this once.
func (s *Service) Create(ctx context.Context, a key.Actor, p CreateParams) (*hook.Endpoint, string, error) {
	types, err := hook.ParseEventTypes(p.EventTypes, p.EventTypes != nil)
	if err != nil {
		return nil, "", err
	}
	if err := hook.ValidateDescription(p.Description); err != nil {
		return nil, "", err
	}
	if err := s.URLs.CheckURL(ctx, p.URL); err != nil {
		return nil, "", err
	}
	now := s.Now().UTC()
	e := &hook.Endpoint{
		ID: key.NewID("we_"), MerchantID: a.MerchantID, URL: p.URL, EventTypes: types,
		Description: p.Description, Status: hook.StatusEnabled, SecretVersionID: key.NewVersionID(),
		CreatedAt: now, UpdatedAt: now,
	}
	secret := webhook.NewSecret()
	if err := s.Secrets.Create(ctx, hook.SecretName(e.ID), e.SecretVersionID, secret); err != nil {
		return nil, "", fmt.Errorf("create endpoint %s: %w", e.ID, err)
	}
	// The limit is enforced by the store in the create's own transaction, so
	// concurrent creates cannot go past it; they only retry each other.
	err = retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		return s.Store.CreateEndpoint(ctx, e, audit(a, "webhook.create", e.ID, now), s.MaxPerMerchant)
	})
	if err != nil {
		s.dropUnusedSecret(ctx, e)
		if errors.Is(err, store.ErrLimitReached) {
			return nil, "", key.Conflict("a merchant may have at most %d webhook endpoints", s.MaxPerMerchant)
		}
		if errors.Is(err, store.ErrStale) {
			return nil, "", key.Conflict("webhook endpoints are being created concurrently; try again")
		}
		return nil, "", fmt.Errorf("create endpoint %s: %w", e.ID, err)
	}
	return e, secret, nil
}

// dropUnusedSecret deletes a new endpoint's signing secret after the
// endpoint's write failed, unless the write committed after all (a timeout
// or a cancelled request can hide a commit): an endpoint must never lose
// its secret. When the endpoint cannot be read, or the write was cut off
// (the commit may still land after any read), the secret stays for the
// lifecycle job's orphan sweep.
func (s *Service) dropUnusedSecret(ctx context.Context, e *hook.Endpoint) {
	if ctx.Err() != nil {
		s.Log.ErrorContext(context.WithoutCancel(ctx), "signing secret left for the orphan sweep", "endpoint_id", e.ID, "reason", "create cut off")
		return
	}
	rctx, cancel := detached(ctx)
	defer cancel()
	_, err := s.Store.GetEndpoint(rctx, e.ID)
	switch {
	case errors.Is(err, key.ErrNotFound):
		s.cleanup(ctx, e.ID)
	case err != nil:
		s.Log.ErrorContext(rctx, "signing secret left for the orphan sweep", "endpoint_id", e.ID, "error", err)
	default:
		s.Log.WarnContext(rctx, "endpoint written although its write reported an error; its signing secret is kept", "endpoint_id", e.ID)
	}
}

// cleanup deletes a signing secret no endpoint points to, even when the
// request that asked for it was cancelled meanwhile; its log line keeps
// the request's IDs.
func (s *Service) cleanup(ctx context.Context, id string) {
	ctx, cancel := detached(ctx)
	defer cancel()
	if err := s.Secrets.Delete(ctx, hook.SecretName(id)); err != nil {
		s.Log.ErrorContext(ctx, "signing secret left without an endpoint", "endpoint_id", id, "error", err)
	}
}

// cleanupTimeout bounds the clean-up after a failed create, which runs even
// when the request that made it was cancelled.
const cleanupTimeout = 5 * time.Second

// detached is ctx without its cancellation, bounded by cleanupTimeout.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
}

// Get returns one of the actor's endpoints; another merchant's is not found.
func (s *Service) Get(ctx context.Context, a key.Actor, id string) (*hook.Endpoint, error) {
	if !hook.ValidID(id) {
		return nil, key.NotFound("webhook endpoint", id)
	}
	e, err := s.Store.GetEndpoint(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.MerchantID != a.MerchantID {
		return nil, key.NotFound("webhook endpoint", id)
	}
	return e, nil
}

// List returns a page of the actor's endpoints, newest first.
func (s *Service) List(ctx context.Context, a key.Actor, limit int, cursor string) ([]*hook.Endpoint, string, error) {
	return s.Store.ListEndpoints(ctx, a.MerchantID, limit, cursor)
}

// change reads an endpoint, applies fn, and saves it, retrying when a
// concurrent change wins. fn returns false when nothing changed; after it,
// *changes (if not nil) names the fields it changed, for the audit record.
func (s *Service) change(ctx context.Context, a key.Actor, id, action string, changes *[]string, fn func(e *hook.Endpoint, now time.Time) (bool, error)) (*hook.Endpoint, error) {
	var out *hook.Endpoint
	err := retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		e, err := s.Get(ctx, a, id)
		if err != nil {
			return err
		}
		now := s.Now().UTC()
		changed, err := fn(e, now)
		if err != nil || !changed {
			out = e
			return err
		}
		e.UpdatedAt = now
		rec := audit(a, action, id, now)
		if changes != nil {
			rec.Changes = *changes
		}
		out = e
		return s.Store.SaveEndpoint(ctx, e, rec)
	})
	if errors.Is(err, store.ErrStale) {
		return nil, errTooFast("webhook endpoint", id)
	}
	if err != nil && out == nil {
		return nil, err
	}
	return out, err
}

// errTooFast answers a change that lost every race to concurrent changes.
func errTooFast(what, id string) error {
	return key.Conflict("%s %s is changing too fast; try again", what, id)
}

// Update applies a patch. A patch that changes nothing writes nothing.
func (s *Service) Update(ctx context.Context, a key.Actor, id string, p Patch) (*hook.Endpoint, error) {
	var types []string
	if p.EventTypes != nil {
		var err error
		if types, err = hook.ParseEventTypes(*p.EventTypes, true); err != nil {
			return nil, err
		}
	}
	if p.Description != nil {
		if err := hook.ValidateDescription(*p.Description); err != nil {
			return nil, err
		}
	}
	var status hook.EndpointStatus
	if p.Status != nil {
		var err error
		if status, err = hook.ParseEndpointStatus(*p.Status); err != nil {
			return nil, err
		}
	}
	if p.URL != nil {
		if err := s.URLs.CheckURL(ctx, *p.URL); err != nil {
			return nil, err
		}
	}
	var changes []string
	return s.change(ctx, a, id, "webhook.update", &changes, func(e *hook.Endpoint, _ time.Time) (bool, error) {
		before := *e
		if p.URL != nil {
			e.URL = *p.URL
		}
		if types != nil {
			e.EventTypes = types
		}
		if p.Description != nil {
			e.Description = *p.Description
		}
		if status != "" && status != e.Status {
			e.Status = status
			e.DisabledReason, e.FailingSince = "", nil
			if e.Status == hook.StatusDisabled {
				e.DisabledReason = hook.ReasonManual
			}
		}
		changes = changes[:0]
		for _, c := range []struct {
			changed bool
			name    string
		}{
			{e.URL != before.URL, "url"},
			{!slices.Equal(e.EventTypes, before.EventTypes), "event_types"},
			{e.Description != before.Description, "description"},
			{e.Status != before.Status, "status"},
		} {
			if c.changed {
				changes = append(changes, c.name)
			}
		}
		return len(changes) > 0, nil
	})
}

// Delete deletes an endpoint and its signing secrets. Its pending
// deliveries are never attempted again.
func (s *Service) Delete(ctx context.Context, a key.Actor, id string) error {
	err := retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		e, err := s.Get(ctx, a, id)
		if err != nil {
			return err
		}
		return s.Store.DeleteEndpoint(ctx, e, audit(a, "webhook.delete", id, s.Now().UTC()))
	})
	if errors.Is(err, store.ErrStale) {
		return errTooFast("webhook endpoint", id)
	}
	if err != nil {
		return err
	}
	s.cleanup(ctx, id)
	return nil
}

// RotateSecret gives an endpoint a new signing secret, returned this once.
// The old one keeps signing too until overlap has passed (0 ends it at once).
func (s *Service) RotateSecret(ctx context.Context, a key.Actor, id string, overlap time.Duration) (*hook.Endpoint, string, error) {
	if err := hook.ValidateOverlap(overlap); err != nil {
		return nil, "", err
	}
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, "", err
	}
	secret, versionID := webhook.NewSecret(), key.NewVersionID()
	if err := s.Secrets.Stage(ctx, hook.SecretName(id), versionID, secret); err != nil {
		return nil, "", fmt.Errorf("rotate endpoint %s secret: %w", id, err)
	}
	e, err := s.change(ctx, a, id, "webhook.rotate_secret", nil, func(e *hook.Endpoint, now time.Time) (bool, error) {
		e.PrevSecretVersionID, e.SecretRotationEndsAt = "", nil
		if overlap > 0 {
			end := now.Add(overlap)
			e.PrevSecretVersionID, e.SecretRotationEndsAt = e.SecretVersionID, &end
		}
		e.SecretVersionID = versionID
		return true, nil
	})
	if err != nil {
		return nil, "", err
	}
	// The labels follow the record; the record alone decides what signs.
	if err := s.Secrets.Promote(ctx, hook.SecretName(id), e.SecretVersionID, e.PrevSecretVersionID); err != nil {
		s.Log.WarnContext(ctx, "signing secret labels lag the endpoint", "endpoint_id", id, "error", err)
	}
	return e, secret, nil
}

// Deliveries returns a page of an endpoint's deliveries, newest first.
func (s *Service) Deliveries(ctx context.Context, a key.Actor, id string, limit int, cursor string) ([]*hook.Delivery, string, error) {
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, "", err
	}
	return s.Store.ListDeliveries(ctx, a.MerchantID, id, limit, cursor)
}

func enabled(e *hook.Endpoint) error {
	if e.Status != hook.StatusEnabled {
		return key.Conflict("webhook endpoint %s is disabled", e.ID)
	}
	return nil
}

// Test sends a webhook.test event to one endpoint, whatever its event types.
func (s *Service) Test(ctx context.Context, a key.Actor, id string) (*hook.Delivery, error) {
	e, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := enabled(e); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	body, err := json.Marshal(outbox.Payload{Type: outbox.EventWebhookTest, Timestamp: outbox.EventTime(now),
		Data: map[string]string{"endpoint_id": id}})
	if err != nil {
		return nil, err
	}
	ev := outbox.Event{ID: key.NewID("msg_"), Type: outbox.EventWebhookTest, MerchantID: a.MerchantID,
		ResourceID: id, EndpointID: id, CreatedAt: now, Data: body}
	d := &hook.Delivery{ID: ev.ID, EndpointID: id, MerchantID: a.MerchantID, EventType: ev.Type,
		Status: hook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
	if err := s.Store.SaveTestEvent(ctx, ev, d, audit(a, "webhook.test", id, now)); err != nil {
		return nil, err
	}
	return s.sendNow(ctx, d)
}

// Retry sends a delivery again now, whatever its status, with the same
// webhook-id.
func (s *Service) Retry(ctx context.Context, a key.Actor, id, deliveryID string) (*hook.Delivery, error) {
	e, err := s.Get(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if !hook.ValidDeliveryID(deliveryID) {
		return nil, key.NotFound("delivery", deliveryID)
	}
	if err := enabled(e); err != nil {
		return nil, err
	}
	var d *hook.Delivery
	err = retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		var err error
		if d, err = s.Store.GetDelivery(ctx, id, deliveryID); err != nil {
			return err
		}
		if d.MerchantID != a.MerchantID {
			return key.NotFound("delivery", deliveryID)
		}
		now := s.Now().UTC()
		d.Status, d.NextAttemptAt = hook.DeliveryPending, &now
		return s.Store.RetryDelivery(ctx, d, audit(a, "webhook.retry", id, now))
	})
	if errors.Is(err, store.ErrStale) {
		return nil, errTooFast("delivery", deliveryID)
	}
	if err != nil {
		return nil, err
	}
	return s.sendNow(ctx, d)
}

// sendNow attempts d at once when the service can; otherwise, or when the
// attempt cannot be made (another worker holds it), the worker sends it.
func (s *Service) sendNow(ctx context.Context, d *hook.Delivery) (*hook.Delivery, error) {
	if s.Sender == nil {
		return d, nil
	}
	sent, err := s.Sender.Attempt(ctx, d)
	if err != nil || sent == nil {
		if err != nil {
			s.Log.WarnContext(ctx, "delivery left to the worker", "delivery_id", d.ID, "endpoint_id", d.EndpointID, "error", err)
		}
		return d, nil
	}
	return sent, nil
}

// CloseEndedOverlaps ends the signing-secret overlaps that are over: the
// endpoint stops naming its previous secret, which loses its label. It reads
// only endpoints whose overlap has ended, and returns how many it closed.
// An endpoint changed concurrently is left for the next run.
func (s *Service) CloseEndedOverlaps(ctx context.Context, now time.Time) (int, error) {
	const page = 100
	closed := 0
	for {
		eps, err := s.Store.EndedOverlaps(ctx, now, page)
		if err != nil {
			return closed, err
		}
		progress := false
		for _, e := range eps {
			e.PrevSecretVersionID, e.SecretRotationEndsAt, e.UpdatedAt = "", nil, now
			a := audit(key.Actor{Subject: "system:rotate", MerchantID: e.MerchantID}, "webhook.close_overlap", e.ID, now)
			if err := s.Store.SaveEndpoint(ctx, e, a); err != nil {
				if errors.Is(err, store.ErrStale) {
					continue
				}
				return closed, err
			}
			progress = true
			closed++
			if err := s.Secrets.Promote(ctx, hook.SecretName(e.ID), e.SecretVersionID, ""); err != nil {
				s.Log.WarnContext(ctx, "previous signing secret keeps its label", "endpoint_id", e.ID, "error", err)
			}
		}
		if len(eps) < page || !progress {
			return closed, nil
		}
	}
}
