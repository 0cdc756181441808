// Package delivery sends outbox events to webhook endpoints: it fans each
// event out to a delivery per endpoint that receives it, then attempts each
// delivery, signed per Standard Webhooks, retrying on the schedule of
// internal/webhook until it succeeds or runs out of attempts.
//
// Delivery is at least once. Every step is recorded in DynamoDB before the
// next: an event stays in the due index until a delivery exists for each of
// its endpoints, and a delivery is claimed by moving its next attempt past a
// lease, so a worker that dies at any point leaves the work due again.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/retry"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/ttlcache"
	"github.com/paykeys/paykeys/internal/webhook"
	"golang.org/x/sync/errgroup"
)

// Store is the metadata store as the worker uses it.
type Store interface {
	AllEndpoints(ctx context.Context, merchantID string) ([]*hook.Endpoint, error)
	GetEndpoint(ctx context.Context, id string) (*hook.Endpoint, error)
	SaveEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord) error
	GetEvent(ctx context.Context, id string) (*outbox.Event, error)
	GetDelivery(ctx context.Context, endpointID, id string) (*hook.Delivery, error)
	SaveDelivery(ctx context.Context, d *hook.Delivery) error
	FannedOut(ctx context.Context, eventID string) error
	PendingEvents(ctx context.Context, now time.Time, limit int) ([]outbox.Event, error)
	DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*hook.Delivery, error)
}

// Secrets reads one version of an endpoint's signing secret.
type Secrets interface {
	Get(ctx context.Context, name, versionID string) (string, error)
}

// Sender makes one HTTP attempt.
type Sender interface {
	Send(ctx context.Context, url string, h http.Header, body []byte) webhook.Attempt
}

// Worker fans out and delivers. It is safe for concurrent use.
type Worker struct {
	Store   Store
	Secrets Secrets
	Sender  Sender
	Log     *slog.Logger
	Now     func() time.Time
	Rand    func() float64
	// Metrics counts attempts (Deliveries, by Outcome and Attempt) and
	// endpoints disabled (EndpointsDisabled, by Reason); optional.
	Metrics *metrics.Set

	// Lease is how long a claimed delivery is kept from other workers: more
	// than one attempt's timeout.
	Lease time.Duration
	// Concurrency bounds the attempts in flight in one sweep or batch.
	Concurrency int
	// Batch is how many due items one query reads.
	Batch int

	secrets *ttlcache.Cache[[]byte] // version ID → secret; versions never change
	once    sync.Once
}

// Signing secrets read are kept for secretTTL, at most secretCacheSize of
// them. A version never changes, so the TTL only bounds how long the bytes
// of a deleted endpoint's secret stay in a warm container's memory. Expiry
// is checked on read: nothing runs in the background.
const (
	secretTTL       = time.Hour
	secretCacheSize = 1000
)

// New returns a Worker with production defaults.
func New(st Store, sec Secrets, sender Sender, log *slog.Logger) *Worker {
	return &Worker{Store: st, Secrets: sec, Sender: sender, Log: log, Now: time.Now, Rand: rand.Float64,
		Lease: 60 * time.Second, Concurrency: 16, Batch: 100}
}

func (w *Worker) secretCache() *ttlcache.Cache[[]byte] {
	w.once.Do(func() { w.secrets = ttlcache.New[[]byte](secretCacheSize, secretTTL) })
	return w.secrets
}

// FanOut makes sure a delivery exists for each endpoint that receives ev,
// then takes ev out of the due index. It returns the deliveries still
// pending, to attempt now.
func (w *Worker) FanOut(ctx context.Context, ev *outbox.Event) ([]*hook.Delivery, error) {
	eps, err := w.Store.AllEndpoints(ctx, ev.MerchantID)
	if err != nil {
		return nil, err
	}
	var pending []*hook.Delivery
	for _, e := range eps {
		if !hook.Receives(e, ev) {
			continue
		}
		now := w.Now().UTC()
		d := &hook.Delivery{ID: ev.ID, EndpointID: e.ID, MerchantID: ev.MerchantID, EventType: ev.Type,
			Status: hook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
		err := w.Store.SaveDelivery(ctx, d)
		if errors.Is(err, store.ErrStale) { // made by an earlier try
			d, err = w.Store.GetDelivery(ctx, e.ID, ev.ID)
		}
		if err != nil {
			return nil, fmt.Errorf("fan out %s to %s: %w", ev.ID, e.ID, err)
		}
		if d.Status == hook.DeliveryPending {
			pending = append(pending, d)
		}
	}
	if err := w.Store.FannedOut(ctx, ev.ID); err != nil {
		return nil, err
	}
	return pending, nil
}

// Attempt claims d if it is due, sends it once and records the attempt. It
// returns the delivery as recorded, or d unchanged when it is not due (done,
// or claimed by another worker). An error means the attempt's outcome could
// not be recorded; the delivery becomes due again when its lease ends.
func (w *Worker) Attempt(ctx context.Context, d *hook.Delivery) (*hook.Delivery, error) {
	now := w.Now().UTC()
	if d.Status != hook.DeliveryPending || d.NextAttemptAt == nil || d.NextAttemptAt.After(now) {
		return d, nil
	}
	claimed := *d
	lease := now.Add(w.Lease)
	claimed.NextAttemptAt = &lease
	if err := w.Store.SaveDelivery(ctx, &claimed); err != nil {
		if errors.Is(err, store.ErrStale) {
			return d, nil // another worker has it
		}
		return nil, err
	}
	d = &claimed

	e, err := w.Store.GetEndpoint(ctx, d.EndpointID)
	switch {
	case errors.Is(err, key.ErrNotFound):
		return w.finish(ctx, d, nil, webhook.Attempt{At: now, Error: "endpoint deleted"}, false)
	case err != nil:
		return nil, err
	case e.Status != hook.StatusEnabled:
		return w.finish(ctx, d, nil, webhook.Attempt{At: now, Error: "endpoint disabled"}, false)
	}
	ev, err := w.Store.GetEvent(ctx, d.ID)
	if errors.Is(err, key.ErrNotFound) {
		return w.finish(ctx, d, nil, webhook.Attempt{At: now, Error: "event expired"}, false)
	}
	if err != nil {
		return nil, err
	}
	var secrets [][]byte
	for _, v := range hook.SigningVersions(e, now) {
		s, err := w.secret(ctx, e.ID, v)
		if err != nil {
			return nil, err
		}
		secrets = append(secrets, s)
	}
	ts := w.Now().UTC()
	h := webhook.Headers(d.ID, ts, webhook.SignatureHeader(secrets, d.ID, ts, ev.Data))
	att := w.Sender.Send(ctx, e.URL, h, ev.Data)
	return w.finish(ctx, d, e, att, true)
}

func (w *Worker) secret(ctx context.Context, endpointID, versionID string) ([]byte, error) {
	c, now := w.secretCache(), w.Now()
	if s, ok := c.Get(versionID, now); ok {
		return s, nil
	}
	raw, err := w.Secrets.Get(ctx, hook.SecretName(endpointID), versionID)
	if err != nil {
		return nil, fmt.Errorf("signing secret of %s: %w", endpointID, err)
	}
	s, err := webhook.DecodeSecret(raw)
	if err != nil {
		return nil, fmt.Errorf("signing secret of %s: %w", endpointID, err)
	}
	c.Add(versionID, s, now)
	return s, nil
}

// finish records an attempt on the claimed delivery, decides what comes
// next, and updates the endpoint's health. sent says whether a request was
// made (a skipped delivery ends at once and says nothing about the endpoint).
func (w *Worker) finish(ctx context.Context, d *hook.Delivery, e *hook.Endpoint, att webhook.Attempt, sent bool) (*hook.Delivery, error) {
	d.Attempts = append(d.Attempts, hook.Attempt{
		At: att.At.UTC(), ResponseStatus: att.Status, LatencyMS: att.Latency.Milliseconds(),
		Error: att.Error, ResponseBody: att.ResponseBody,
	})
	now := w.Now().UTC()
	outcome := att.Outcome()
	d.Status, d.NextAttemptAt = hook.DeliveryFailed, nil
	switch {
	case !sent:
	case outcome == webhook.Succeeded:
		d.Status = hook.DeliverySucceeded
	case outcome == webhook.Failed:
		if next, ok := webhook.NextAttempt(len(d.Attempts), now, att.RetryAfter, w.Rand); ok {
			d.Status, d.NextAttemptAt = hook.DeliveryPending, &next
		}
	}
	var disabled string
	if sent {
		var err error
		if disabled, err = w.health(ctx, e, outcome, now); err != nil {
			w.Log.ErrorContext(ctx, "endpoint health not recorded", "endpoint_id", e.ID, "error", err)
		}
		if disabled != "" {
			d.Status, d.NextAttemptAt = hook.DeliveryFailed, nil
		}
	}
	w.count(d, outcome, sent, disabled)
	err := w.Store.SaveDelivery(ctx, d)
	w.Log.InfoContext(ctx, "delivery", "delivery_id", d.ID, "endpoint_id", d.EndpointID, "merchant_id", d.MerchantID,
		"event_type", d.EventType, "attempt", len(d.Attempts), "response_status", att.Status,
		"latency_ms", att.Latency.Milliseconds(), "error", att.Error, "outcome", outcome.String(),
		"status", d.Status, "next_attempt_at", d.NextAttemptAt, "endpoint_disabled", disabled)
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Metric names.
const (
	MetricDeliveries        = "Deliveries"
	MetricEndpointsDisabled = "EndpointsDisabled"
)

// count records an attempt: its outcome (succeeded, failed, gone, or
// skipped when no request was made) and its number, from 1 to
// webhook.MaxAttempts (a retry asked for past the schedule counts as the
// last), and the endpoint it disabled.
func (w *Worker) count(d *hook.Delivery, o webhook.Outcome, sent bool, disabled string) {
	if w.Metrics == nil {
		return
	}
	outcome := "skipped"
	if sent {
		outcome = o.String()
	}
	attempt := strconv.Itoa(min(len(d.Attempts), webhook.MaxAttempts))
	w.Metrics.Add(MetricDeliveries, 1, "Outcome", outcome, "Attempt", attempt)
	if disabled != "" {
		w.Metrics.Add(MetricEndpointsDisabled, 1, "Reason", disabled)
	}
}

// health records an attempt's outcome on its endpoint: a success clears the
// failure streak, a failure starts one, a 410 or a streak of FailingFor
// disables the endpoint. It returns the reason when it disabled it.
func (w *Worker) health(ctx context.Context, e *hook.Endpoint, o webhook.Outcome, now time.Time) (string, error) {
	id := e.ID
	var reason string
	err := retry.OnConflict(ctx, healthAttempts, store.ErrStale, func(attempt int) error {
		reason = ""
		if attempt > 1 { // a concurrent change won: decide again on the endpoint as it is now
			var err error
			if e, err = w.Store.GetEndpoint(ctx, id); err != nil {
				return err
			}
			if e.Status != hook.StatusEnabled {
				return nil
			}
		}
		switch {
		case o == webhook.Succeeded && e.FailingSince == nil:
			return nil
		case o == webhook.Succeeded:
			e.FailingSince = nil
		case o == webhook.Gone:
			reason = hook.ReasonGone
		case e.FailingSince == nil:
			e.FailingSince = &now
		case now.Sub(*e.FailingSince) >= hook.FailingFor:
			reason = hook.ReasonFailing
		default:
			return nil // still failing, not for long enough
		}
		var a *key.AuditRecord
		if reason != "" {
			e.Status, e.DisabledReason = hook.StatusDisabled, reason
			a = key.Actor{Subject: "system:webhook", MerchantID: e.MerchantID}.
				Audit("webhook.disable", "webhook_endpoint", e.ID, key.OutcomeSuccess, now)
		}
		e.UpdatedAt = now
		return w.Store.SaveEndpoint(ctx, e, a)
	})
	switch {
	case errors.Is(err, store.ErrStale):
		return "", fmt.Errorf("endpoint %s: too many concurrent changes: %w", id, err)
	case err != nil:
		return reason, err
	}
	return reason, nil
}

// healthAttempts bounds the tries to record an attempt's outcome on its
// endpoint while concurrent changes win.
const healthAttempts = 5

// Stats count one sweep's work.
type Stats struct {
	Events   int // fanned out
	Attempts int // deliveries attempted
	Errors   int
}

// stopBefore is how long before ctx's deadline a sweep stops starting
// batches, so attempts in flight can finish and be recorded.
const stopBefore = 20 * time.Second

// Sweep fans out every pending outbox event and attempts every due
// delivery, in batches, until nothing is due or ctx nears its deadline.
func (w *Worker) Sweep(ctx context.Context) (Stats, error) {
	var st Stats
	more := func() bool {
		d, ok := ctx.Deadline()
		return ctx.Err() == nil && (!ok || time.Until(d) > stopBefore)
	}
	for more() {
		evs, err := w.Store.PendingEvents(ctx, w.Now(), w.Batch)
		if err != nil {
			return st, err
		}
		failed := w.parallel(len(evs), func(i int) bool {
			_, err := w.FanOut(ctx, &evs[i])
			if err != nil {
				w.Log.ErrorContext(ctx, "fan-out failed", "event_id", evs[i].ID, "error", err)
			}
			return err == nil
		})
		st.Events += len(evs)
		st.Errors += failed
		if len(evs) < w.Batch || st.Errors > 0 {
			break
		}
	}
	for more() {
		due, err := w.Store.DueDeliveries(ctx, w.Now(), w.Batch)
		if err != nil {
			return st, err
		}
		n, errs := w.AttemptAll(ctx, due)
		st.Attempts += n
		st.Errors += errs
		if len(due) < w.Batch || n == 0 {
			break
		}
	}
	return st, nil
}

// AttemptAll attempts deliveries concurrently, at most Concurrency at a
// time, and returns how many it attempted and how many failed to record.
func (w *Worker) AttemptAll(ctx context.Context, ds []*hook.Delivery) (attempted, errs int) {
	var n atomic.Int64
	errs = w.parallel(len(ds), func(i int) bool {
		got, err := w.Attempt(ctx, ds[i])
		if err != nil {
			w.Log.ErrorContext(ctx, "delivery not recorded", "delivery_id", ds[i].ID, "endpoint_id", ds[i].EndpointID, "error", err)
			return false
		}
		if got != ds[i] {
			n.Add(1)
		}
		return true
	})
	return int(n.Load()), errs
}

// parallel runs fn for 0..n-1, at most Concurrency at a time, and returns
// how many calls reported failure.
func (w *Worker) parallel(n int, fn func(i int) bool) int {
	var failed atomic.Int64
	var g errgroup.Group
	g.SetLimit(max(w.Concurrency, 1))
	for i := range n {
		g.Go(func() error {
			if !fn(i) {
				failed.Add(1)
			}
			return nil
		})
	}
	_ = g.Wait() // fn reports failures by counting, never by an error
	return int(failed.Load())
}
