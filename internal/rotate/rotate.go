// Package rotate is the scheduled lifecycle job (the rotate function): on
// every run it reads the keys whose next due time has come from the due
// index, and for each does what key.DueAt says is due — expire it, send the
// key.expiring and key.rotation_due notices, end a previous secret's grace
// and retire its version in the secret store — then the key's due time moves
// on with the write, so a handled key leaves the due range.
//
// Every change is one store.UpdateKey at the revision just read, with its
// outbox events in the same transaction, so each event is written exactly
// once however many runs overlap: a run that loses a race reads the key
// again and finds nothing due. A run that stops early (its context ends, or
// the Lambda's remaining time falls under StopMargin) leaves what it did not
// reach in the due index, and the next run resumes there.
package rotate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/retry"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
)

// Store is the metadata store as the job uses it.
type Store interface {
	DueKeys(ctx context.Context, now time.Time, cursor string, limit int) ([]store.DueKey, string, error)
	GetKey(ctx context.Context, id string) (*key.Key, error)
	UpdateKey(ctx context.Context, k *key.Key, x outbox.Extras) error
	// AttachLastUse fills in the key's last use, for the events' key.
	AttachLastUse(ctx context.Context, keys ...*key.Key) error
}

// Secrets takes a retired version's staging labels off (secret.Store.Retire).
type Secrets interface {
	Retire(ctx context.Context, clientID, versionID, currentVersionID string) error
}

// Overlaps ends webhook signing-secret overlaps that are over; the job calls
// it once per run when set, and counts what it closed.
type Overlaps interface {
	CloseEndedOverlaps(ctx context.Context, now time.Time) (int, error)
}

// SecretUpkeep is the secret store's own background work (secret.Chain's
// Upkeep): moving secrets into the configured store, re-wrapping
// ciphertexts after a KEK rotation. The job calls it once per run when set.
type SecretUpkeep interface {
	Upkeep(ctx context.Context) (secret.UpkeepStats, error)
}

// Audit identity of the job's changes.
const (
	Actor     = "system:rotate"
	actorRole = "system"
)

// Defaults of a Job made by New.
const (
	DefaultPageSize    = 100
	DefaultWorkers     = 8
	DefaultMaxAttempts = 8
	DefaultStopMargin  = 30 * time.Second
)

// Job runs the scheduled lifecycle. Its fields are set before the first Run;
// a Job may run concurrently with itself (in one process or several).
type Job struct {
	Store    Store
	Secrets  Secrets
	Overlaps Overlaps     // optional
	Upkeep   SecretUpkeep // optional
	// KEKs rotates the envelope store's KEK when a request asks, or, with
	// KEKMaxAge > 0, once the current KEK is older (optional).
	KEKs      KEKs
	KEKMaxAge time.Duration
	// The orphan secret sweep walks each of Sweeps when Cursors is set
	// (sweep.go); SweepMargin and SweepLimit (per store and run) default
	// to DefaultSweepMargin and DefaultSweepLimit.
	Sweeps      []SweptStore
	Cursors     Cursors
	SweepMargin time.Duration
	SweepLimit  int
	Log         *slog.Logger
	Now         func() time.Time
	Metrics     *metrics.Set // one run's progress (see record); optional

	PageSize    int           // due index entries read per Query page
	Workers     int           // keys handled at once
	MaxAttempts int           // reads of one key when concurrent changes keep winning
	StopMargin  time.Duration // start no more work once the context's deadline is this close
}

// New returns a Job with the defaults above.
func New(st Store, sec Secrets, log *slog.Logger) *Job {
	return &Job{
		Store: st, Secrets: sec, Log: log, Now: time.Now,
		PageSize: DefaultPageSize, Workers: DefaultWorkers,
		MaxAttempts: DefaultMaxAttempts, StopMargin: DefaultStopMargin,
	}
}

// Stats is what one run did.
type Stats struct {
	Pages      int                    `json:"pages"`           // due index pages read
	IndexItems int                    `json:"index_items"`     // due index entries read: the only items read besides the keys themselves
	Keys       int                    `json:"keys"`            // keys read again and handled
	Updated    int                    `json:"keys_updated"`    // key writes (a key whose grace ended takes two)
	Skipped    int                    `json:"keys_skipped"`    // nothing was due on a fresh read: handled by a concurrent run, or the index lagged
	Stale      int                    `json:"stale_retries"`   // writes lost to a concurrent change, then read again
	Failed     int                    `json:"keys_failed"`     // left due by an error; the next run tries again
	Events     int                    `json:"events"`          // outbox events written
	ByType     map[string]int         `json:"events_by_type"`  // ... by event type
	Retired    int                    `json:"secrets_retired"` // previous secret versions retired in the secret store
	Overlaps   int                    `json:"overlaps_closed"`
	Secrets    *secret.UpkeepStats    `json:"secret_store,omitempty"`
	KEK        []secret.KEKRotation   `json:"kek_rotations,omitempty"`
	Orphans    map[string]*SweepStats `json:"orphan_sweep,omitempty"` // by kind of secret
	Stopped    bool                   `json:"stopped"`                // cut off before the end; the rest stays due
	Duration   time.Duration          `json:"-"`
	DurationMS int64                  `json:"duration_ms"`
}

// kekRotations counts the KEKs the run rotated.
func (st Stats) kekRotations() int {
	n := 0
	for _, k := range st.KEK {
		if k.Rotated {
			n++
		}
	}
	return n
}

// orphans adds up the sweep's stats over the kinds of secret.
func (st Stats) orphans() SweepStats {
	var t SweepStats
	for _, o := range st.Orphans {
		t.Examined += o.Examined
		t.Young += o.Young
		t.Owned += o.Owned
		t.Deleted += o.Deleted
		t.Failed += o.Failed
	}
	return t
}

// eventType is the event announcing a duty, or "" for one that announces nothing.
func eventType(d key.Duty) string {
	switch d {
	case key.DutyExpire:
		return outbox.EventKeyExpired
	case key.DutyExpiringNotice:
		return outbox.EventKeyExpiring
	case key.DutyRotationNotice:
		return outbox.EventRotationDue
	}
	return ""
}

// run is one Run's shared state.
type run struct {
	id string
	mu sync.Mutex
	st Stats
}

func (r *run) add(f func(st *Stats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.st)
}

// Run is a scheduled run: RunRequest with nothing requested.
func (j *Job) Run(ctx context.Context) (Stats, error) { return j.RunRequest(ctx, Request{}) }

// RunRequest does what req asks (a KEK rotation), then reads every key due
// now and does what is due, page by page, then the secret store's upkeep and
// the orphan secret sweep. It returns the run's stats and an error when the
// request failed, the due index could not be read, the context ended, or
// some keys failed (they stay due). It logs one summary line.
func (j *Job) RunRequest(ctx context.Context, req Request) (Stats, error) {
	started := time.Now()
	r := &run{id: runID(ctx), st: Stats{ByType: map[string]int{}}}
	err := j.run(ctx, r, req)
	st := r.st
	st.Duration = time.Since(started)
	st.DurationMS = st.Duration.Milliseconds()
	if err == nil && st.Failed > 0 {
		err = fmt.Errorf("rotate: %d keys failed and stay due", st.Failed)
	}
	j.summary(ctx, r.id, st, err)
	j.record(st, err)
	return st, err
}

// Metric names. LifecycleRuns has the dimension Result: completed (every
// due key handled), stopped (cut off by the deadline; the rest stays due)
// or failed (keys left due by errors, or the due index unreadable).
const (
	MetricRuns           = "LifecycleRuns"
	MetricKeys           = "LifecycleKeys"
	MetricKeysUpdated    = "LifecycleKeysUpdated"
	MetricKeysFailed     = "LifecycleKeysFailed"
	MetricEvents         = "LifecycleEvents"
	MetricSecretsRetired = "LifecycleSecretsRetired"
	MetricOrphansDeleted = "LifecycleOrphanSecretsDeleted"
	MetricKEKRotations   = "LifecycleKEKRotations"
	MetricDuration       = "LifecycleDuration"
	MetricStoppedAfter   = "LifecycleStoppedAfter"
)

// record writes one run's metrics: its result, the keys it handled, updated
// and left failed, the events it wrote, the versions it retired, how long
// it ran, and, when it stopped early, after how long.
func (j *Job) record(st Stats, err error) {
	m := j.Metrics
	if m == nil {
		return
	}
	result := "completed"
	switch {
	case st.Stopped:
		result = "stopped"
		m.Observe(MetricStoppedAfter, metrics.Milliseconds, float64(st.DurationMS))
	case err != nil:
		result = "failed"
	}
	m.Add(MetricRuns, 1, "Result", result)
	m.Add(MetricKeys, float64(st.Keys))
	m.Add(MetricKeysUpdated, float64(st.Updated))
	m.Add(MetricKeysFailed, float64(st.Failed))
	m.Add(MetricEvents, float64(st.Events))
	m.Add(MetricSecretsRetired, float64(st.Retired))
	if st.Orphans != nil {
		m.Add(MetricOrphansDeleted, float64(st.orphans().Deleted))
	}
	if n := st.kekRotations(); n > 0 {
		m.Add(MetricKEKRotations, float64(n))
	}
	m.Observe(MetricDuration, metrics.Milliseconds, float64(st.DurationMS))
}

func (j *Job) run(ctx context.Context, r *run, req Request) error {
	// The request first: a failed one fails the invocation, which still
	// does the scheduled work.
	reqErr := j.rotateKEK(ctx, r, req)
	if reqErr != nil {
		j.Log.ErrorContext(ctx, "rotate: kek rotation failed", "run_id", r.id, "error", reqErr.Error())
	}
	return errors.Join(reqErr, j.scheduled(ctx, r))
}

// scheduled is every run's work: overlaps, due keys, the secret store's
// upkeep, the orphan sweep.
func (j *Job) scheduled(ctx context.Context, r *run) error {
	now := j.Now()
	if j.Overlaps != nil {
		n, err := j.Overlaps.CloseEndedOverlaps(ctx, now)
		r.st.Overlaps = n
		if err != nil {
			if ctx.Err() != nil {
				r.st.Stopped = true
				return ctx.Err()
			}
			j.Log.ErrorContext(ctx, "rotate: closing webhook secret overlaps failed", "run_id", r.id, "error", err.Error())
			r.st.Failed++
		}
	}
	if err := j.runKeys(ctx, r, now); err != nil {
		return err
	}
	if j.Upkeep != nil && !j.stopping(ctx) {
		us, err := j.Upkeep.Upkeep(ctx)
		r.st.Secrets = &us
		if err != nil {
			if ctx.Err() != nil {
				r.st.Stopped = true
				return ctx.Err()
			}
			j.Log.ErrorContext(ctx, "rotate: secret store upkeep failed", "run_id", r.id, "error", err.Error())
			r.st.Failed++
		}
	}
	for _, ss := range j.Sweeps {
		if j.Cursors == nil || j.stopping(ctx) {
			break
		}
		if r.st.Orphans == nil {
			r.st.Orphans = map[string]*SweepStats{}
		}
		if err := j.sweep(ctx, r, ss); err != nil {
			if ctx.Err() != nil {
				r.st.Stopped = true
				return ctx.Err()
			}
			j.Log.ErrorContext(ctx, "rotate: orphan secret sweep failed", "run_id", r.id, "kind", ss.Kind, "error", err.Error())
			r.st.Failed++
		}
	}
	return nil
}

// runKeys handles the keys due at now, page by page.
func (j *Job) runKeys(ctx context.Context, r *run, now time.Time) error {
	cursor := ""
	for {
		if j.stopping(ctx) {
			r.st.Stopped = true
			return ctx.Err()
		}
		page, next, err := j.Store.DueKeys(ctx, now, cursor, j.pageSize())
		if err != nil {
			if ctx.Err() != nil {
				r.st.Stopped = true
				return ctx.Err()
			}
			return fmt.Errorf("rotate: read due keys: %w", err)
		}
		r.st.Pages++
		r.st.IndexItems += len(page)
		j.handlePage(ctx, r, page)
		if r.st.Stopped {
			return ctx.Err()
		}
		if next == "" {
			return nil
		}
		cursor = next
	}
}

// handlePage handles a page's keys with up to Workers at once, starting none
// once the run is stopping.
func (j *Job) handlePage(ctx context.Context, r *run, page []store.DueKey) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(j.workers(), len(page)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				j.handleOne(ctx, r, id)
			}
		}()
	}
	for _, dk := range page {
		if j.stopping(ctx) {
			r.add(func(st *Stats) { st.Stopped = true })
			break
		}
		work <- dk.ID
	}
	close(work)
	wg.Wait()
}

func (j *Job) handleOne(ctx context.Context, r *run, id string) {
	err := j.handle(ctx, r, id)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		r.add(func(st *Stats) { st.Stopped = true })
	default:
		r.add(func(st *Stats) { st.Failed++ })
		j.Log.ErrorContext(ctx, "rotate: key left due", "run_id", r.id, "key_id", id, "error", err.Error())
	}
}

// handle does what is due for one key: read it, retire a version left to
// retire, sweep, write; again after a write that left a version to retire
// (a grace period ended), and from a fresh read after a concurrent change.
func (j *Job) handle(ctx context.Context, r *run, id string) error {
	var k *key.Key
	wrote := false
	for pass := 0; ; pass++ {
		// A sweep needs at most two writes (the second retires a version);
		// more means something keeps the key due, so leave it to the next run.
		if pass > j.maxAttempts()+2 {
			return errors.New("still due after repeated writes")
		}
		done := false
		err := retry.OnConflict(ctx, j.maxAttempts(), store.ErrStale, func(attempt int) error {
			if attempt > 1 { // a concurrent change won: start again from a fresh read
				r.add(func(st *Stats) { st.Stale++ })
				k = nil
			}
			if k == nil {
				var err error
				if k, err = j.Store.GetKey(ctx, id); err != nil {
					if errors.Is(err, key.ErrNotFound) {
						done = true
						return nil
					}
					return err
				}
			}
			now := j.Now()
			n, retired := k, ""
			if v := k.RetiringSecretVersionID; v != "" && k.Status != key.StatusRevoked {
				if err := j.Secrets.Retire(ctx, k.ID, v, k.SecretVersionID); err != nil {
					return fmt.Errorf("retire secret version %s: %w", v, err)
				}
				n, retired = k.SecretRetired(v), v
			}
			n, duties := n.Sweep(now)
			if n == k {
				r.add(func(st *Stats) {
					st.Keys++
					if !wrote {
						st.Skipped++
					}
				})
				done = true
				return nil
			}
			if err := j.Store.AttachLastUse(ctx, n); err != nil {
				return err
			}
			x := j.extras(r.id, n, duties, now)
			if err := j.Store.UpdateKey(ctx, n, x); err != nil {
				return err
			}
			wrote = true
			r.add(func(st *Stats) {
				st.Updated++
				st.Events += len(x.Events)
				for _, e := range x.Events {
					st.ByType[e.Type]++
				}
				if retired != "" {
					st.Retired++
				}
			})
			k = n // at its new revision; a version it now lists to retire is next
			return nil
		})
		if errors.Is(err, store.ErrStale) {
			return fmt.Errorf("gave up after %d concurrent changes: %w", j.maxAttempts(), err)
		}
		if err != nil || done {
			return err
		}
	}
}

// extras are the outbox events of the duties done, and an audit record for
// the changes a merchant can see (expiry, end of a grace period).
func (j *Job) extras(runID string, n *key.Key, duties []key.Duty, now time.Time) outbox.Extras {
	var x outbox.Extras
	action := ""
	for _, d := range duties {
		if typ := eventType(d); typ != "" {
			x.Events = append(x.Events, outbox.KeyEvent(typ, n, now))
		}
		switch {
		case d == key.DutyExpire:
			action = "key.expire"
		case d == key.DutyEndGrace && action == "":
			action = "key.grace_end"
		}
	}
	if action != "" {
		a := key.Actor{Subject: Actor, MerchantID: n.MerchantID, Role: actorRole, RequestID: runID}
		x.Audit = a.Audit(action, "key", n.ID, key.OutcomeSuccess, now)
	}
	return x
}

// stopping reports whether the run must start no more work: its context is
// done, or its deadline (a Lambda's) is closer than StopMargin.
func (j *Job) stopping(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	dl, ok := ctx.Deadline()
	return ok && time.Until(dl) < j.StopMargin
}

func (j *Job) summary(ctx context.Context, runID string, st Stats, err error) {
	attrs := []any{
		"run_id", runID, "duration_ms", st.DurationMS, "pages", st.Pages, "index_items", st.IndexItems,
		"keys", st.Keys, "keys_updated", st.Updated, "keys_skipped", st.Skipped, "stale_retries", st.Stale,
		"keys_failed", st.Failed, "events", st.Events, "secrets_retired", st.Retired,
		"overlaps_closed", st.Overlaps, "stopped", st.Stopped,
	}
	if len(st.KEK) > 0 {
		attrs = append(attrs, "keks_rotated", st.kekRotations(), "kek_requested", st.KEK[0].Requested)
	}
	if st.Orphans != nil {
		o := st.orphans()
		attrs = append(attrs, "orphan_secrets_examined", o.Examined, "orphan_secrets_deleted", o.Deleted,
			"orphan_secrets_failed", o.Failed)
	}
	if u := st.Secrets; u != nil {
		attrs = append(attrs, "secrets_moved", u.Moved, "secrets_move_failed", u.MoveFailed,
			"secrets_rewrapped", u.Rewrap.Rewrapped, "kek_retired", u.Rewrap.Retired)
	}
	for _, typ := range []string{outbox.EventKeyExpired, outbox.EventKeyExpiring, outbox.EventRotationDue} {
		attrs = append(attrs, typ, st.ByType[typ])
	}
	if err != nil {
		j.Log.ErrorContext(ctx, "rotate run", append(attrs, "error", err.Error())...)
		return
	}
	j.Log.InfoContext(ctx, "rotate run", attrs...)
}

func runID(ctx context.Context) string {
	if lc, ok := lambdacontext.FromContext(ctx); ok && lc.AwsRequestID != "" {
		return lc.AwsRequestID
	}
	return key.NewID("run_")
}

func (j *Job) pageSize() int {
	if j.PageSize < 1 {
		return DefaultPageSize
	}
	return j.PageSize
}

func (j *Job) workers() int {
	if j.Workers < 1 {
		return 1
	}
	return j.Workers
}

func (j *Job) maxAttempts() int {
	if j.MaxAttempts < 1 {
		return DefaultMaxAttempts
	}
	return j.MaxAttempts
}
