// Package usage counts key decisions (the authorizer's and the service
// verify route's) per key and UTC day, and remembers each key's last use,
// without a store round trip per decision.
//
// A Recorder aggregates decisions in memory and writes them in the
// background, one transaction per key and day, when the oldest pending entry
// is FlushInterval old, and on Flush or Close.
//
// Loss bound: counts live only in the container's memory until they are
// written. If the process crashes, or Lambda reaps a frozen container, at
// most the decisions of that container's last FlushInterval (plus any whose
// writes were failing and held for a retry) are lost, and never more than
// MaxEntries key-days; decisions beyond MaxEntries pending key-days are not
// counted at all (they are logged as dropped). Lambda runs a container's
// goroutines only while it serves an invocation, so a container that was
// frozen with counts pending writes them early in its next invocation, or
// never if it is reaped first. Counts are never double-counted by a
// successful write: each batch leaves memory once written, and a batch whose
// outcome was unknown (a timeout, a container frozen mid-write) is sent again
// with the same ClientRequestToken, which DynamoDB applies at most once
// within ten minutes; only a write DynamoDB refused for sure is sent again
// as a new request.
package usage

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/store"
	"golang.org/x/sync/errgroup"
)

// Sink is where counts are written; *store.Store is one.
type Sink interface {
	// AddUsage adds a day's counts to a key's counters, at most once per
	// token; an error wrapping key.ErrNotFound means there is no such key.
	AddUsage(ctx context.Context, clientID string, day key.UsageDay, token string) error
	// SetLastUsed records a key's last use unless a later one is recorded.
	SetLastUsed(ctx context.Context, clientID string, at time.Time, ip string) (bool, error)
}

// Defaults.
const (
	DefaultFlushInterval = 10 * time.Second
	DefaultMaxEntries    = 10000
	DefaultWorkers       = 8
	DefaultFlushTimeout  = 5 * time.Second
)

// Options tune a Recorder. Zero values take the defaults.
type Options struct {
	// FlushInterval is how old the oldest pending entry may grow before the
	// background goroutine writes everything pending; it is also the wait
	// before a failed write is tried again. Default 10 s.
	FlushInterval time.Duration
	// MaxEntries bounds the key-days held in memory, pending or waiting for a
	// retry. Default 10000. Client IDs that no decision proved may take at
	// most a quarter of them, so a flood of made-up IDs cannot crowd out the
	// counts of real keys.
	MaxEntries int
	// Workers is how many writes a flush makes at once. Default 8.
	Workers int
	// FlushTimeout bounds one background flush. Default 5 s.
	FlushTimeout time.Duration
	// Poll is how often the background goroutine checks whether a flush is
	// due. Default FlushInterval/10, within 10 ms..1 s.
	Poll time.Duration
	// Now is the clock that decides when a flush is due. Default time.Now.
	Now func() time.Time
	// Log receives flush failures and drop counts. Default: discarded.
	Log *slog.Logger
	// Metrics counts failed flushes (UsageFlushFailures) and decisions not
	// counted (UsageDropped). Optional.
	Metrics *metrics.Set
}

// Metric names.
const (
	MetricFlushFailures = "UsageFlushFailures"
	MetricDropped       = "UsageDropped"
)

type dayKey struct{ id, date string }

// counts is one key-day's aggregate.
type counts struct {
	allowed int64
	denied  map[key.Code]int64
	proven  bool // a decision proved the key exists
}

// batch is a key-day's counts on their way to the sink. The token stays
// with the very same counts until they are written.
type batch struct {
	k     dayKey
	c     *counts
	token string
}

type lastUse struct {
	at time.Time
	ip string
}

// Recorder aggregates decisions and writes them in the background. It is
// safe for concurrent use; Record never waits for I/O.
type Recorder struct {
	sink Sink
	o    Options
	log  *slog.Logger

	mu       sync.Mutex
	pending  map[dayKey]*counts
	oldest   time.Time // when the first pending entry arrived
	unproven int       // pending entries no decision proved
	retry    []batch   // failed writes, kept with their tokens
	retryAt  time.Time
	inflight int // entries being written by a flush
	last     map[string]lastUse
	dropped  int64 // decisions not counted since the last report

	flushMu   sync.Mutex // one flush at a time
	kick      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// New returns a Recorder writing to sink and starts its background goroutine;
// Close stops it.
func New(sink Sink, o Options) *Recorder {
	if o.FlushInterval <= 0 {
		o.FlushInterval = DefaultFlushInterval
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Workers <= 0 {
		o.Workers = DefaultWorkers
	}
	if o.FlushTimeout <= 0 {
		o.FlushTimeout = DefaultFlushTimeout
	}
	if o.Poll <= 0 {
		o.Poll = min(max(o.FlushInterval/10, 10*time.Millisecond), time.Second)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	log := o.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		sink: sink, o: o, log: log,
		pending: map[dayKey]*counts{}, last: map[string]lastUse{},
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go r.run()
	return r
}

// Record counts one decision made at now from sourceIP ("" when unknown).
// A decision whose key was proven counts for that key; one that names a
// client ID without proving it (a wrong secret, a bad signature, a stale
// timestamp, a replayed nonce) counts as denied for that client ID, and is
// written only if such a key exists; one without a client ID counts nowhere.
// Allowed decisions also update the key's last use. Record never blocks on
// I/O: when MaxEntries key-days are held, a decision for a new one is dropped.
func (r *Recorder) Record(d key.Decision, sourceIP string, now time.Time) {
	id, proven := d.ClientID, d.Key != nil
	if proven {
		id = d.Key.ID
	}
	if d.Code == "" || !key.ValidClientID(id) {
		return
	}
	allowed := proven && d.Code == key.CodeValid
	k := dayKey{id: id, date: now.UTC().Format(store.DateLayout)}

	r.mu.Lock()
	c, ok := r.pending[k]
	if !ok {
		if r.held() >= r.o.MaxEntries || !proven && r.unproven >= r.o.MaxEntries/4 {
			r.dropped++
			r.mu.Unlock()
			return
		}
		c = &counts{}
		r.pending[k] = c
		if len(r.pending) == 1 {
			r.oldest = r.o.Now()
		}
		if !proven {
			r.unproven++
		}
	}
	if proven && !c.proven {
		c.proven = true
		if ok {
			r.unproven--
		}
	}
	if allowed {
		c.allowed++
		if l, seen := r.last[id]; seen && now.After(l.at) || !seen && len(r.last) < r.o.MaxEntries {
			r.last[id] = lastUse{at: now, ip: sourceIP}
		}
	} else {
		if c.denied == nil {
			c.denied = map[key.Code]int64{}
		}
		c.denied[d.Code]++
	}
	due := r.dueLocked(r.o.Now())
	r.mu.Unlock()
	if due {
		select {
		case r.kick <- struct{}{}:
		default:
		}
	}
}

// held is how many key-days are in memory; r.mu is held.
func (r *Recorder) held() int { return len(r.pending) + len(r.retry) + r.inflight }

// dueLocked reports whether a flush is due at now; r.mu is held.
func (r *Recorder) dueLocked(now time.Time) bool {
	return len(r.pending) > 0 && now.Sub(r.oldest) >= r.o.FlushInterval ||
		len(r.retry) > 0 && !now.Before(r.retryAt)
}

// Pending is how many key-days are in memory, waiting to be written.
func (r *Recorder) Pending() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held()
}

// Dropped is how many decisions were not counted because the bound was
// reached, since it was last reported in the log.
func (r *Recorder) Dropped() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.dropped
}

func (r *Recorder) run() {
	defer close(r.done)
	t := time.NewTicker(r.o.Poll)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		case <-r.kick:
		}
		r.mu.Lock()
		due := r.dueLocked(r.o.Now())
		r.mu.Unlock()
		if due {
			ctx, cancel := context.WithTimeout(context.Background(), r.o.FlushTimeout)
			_ = r.Flush(ctx) // logged by Flush; what failed is kept for the next one
			cancel()
		}
	}
}

// Flush writes everything pending now, and retries earlier failed writes.
// Writes that fail are kept (within MaxEntries) for the next flush and
// logged; counts for client IDs that name no key are discarded. It returns
// an error when any write failed.
func (r *Recorder) Flush(ctx context.Context) error {
	r.flushMu.Lock()
	defer r.flushMu.Unlock()

	r.mu.Lock()
	work := r.retry
	for k, c := range r.pending {
		work = append(work, batch{k: k, c: c, token: newToken()})
	}
	touches := r.last
	dropped := r.dropped
	r.pending, r.last, r.retry = map[dayKey]*counts{}, map[string]lastUse{}, nil
	r.oldest, r.unproven, r.dropped, r.inflight = time.Time{}, 0, 0, len(work)
	r.mu.Unlock()

	if dropped > 0 {
		r.log.WarnContext(ctx, "usage decisions dropped", "dropped", dropped, "max_entries", r.o.MaxEntries)
		r.count(MetricDropped, dropped)
	}

	var (
		mu        sync.Mutex
		failed    []batch
		untouched = map[string]lastUse{}
		firstErr  error
		noKey     int
	)
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	var g errgroup.Group
	g.SetLimit(r.o.Workers)
	for _, b := range work {
		g.Go(func() error {
			err := r.sink.AddUsage(ctx, b.k.id, b.c.day(b.k.date), b.token)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, key.ErrNotFound):
				noKey++
			case err != nil:
				if errors.Is(err, store.ErrUsageNotWritten) {
					b.token = newToken() // refused for sure: the next try is a new request
				}
				failed = append(failed, b)
				fail(err)
			}
			return nil
		})
	}
	for id, l := range touches {
		g.Go(func() error {
			_, err := r.sink.SetLastUsed(ctx, id, l.at, l.ip)
			if err != nil {
				mu.Lock()
				untouched[id] = l
				fail(err)
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait() // failures are collected above, never returned

	r.mu.Lock()
	r.inflight = 0
	r.retry = failed
	if len(failed) > 0 {
		r.retryAt = r.o.Now().Add(r.o.FlushInterval)
	}
	for id, l := range untouched {
		if cur, ok := r.last[id]; !ok && len(r.last) < r.o.MaxEntries || ok && l.at.After(cur.at) {
			r.last[id] = l
		}
	}
	r.mu.Unlock()

	if noKey > 0 {
		r.log.DebugContext(ctx, "usage of unknown client IDs discarded", "key_days", noKey)
	}
	if firstErr != nil {
		r.count(MetricFlushFailures, 1)
		r.log.WarnContext(ctx, "usage flush failed; kept for the next flush",
			"key_days_failed", len(failed), "key_days", len(work), "last_used_failed", len(untouched),
			"error", firstErr.Error())
		return fmt.Errorf("usage: %d of %d key-days and %d of %d last uses not written: %w",
			len(failed), len(work), len(untouched), len(touches), firstErr)
	}
	return nil
}

func (r *Recorder) count(name string, n int64) {
	if r.o.Metrics != nil {
		r.o.Metrics.Add(name, float64(n))
	}
}

// Close stops the background goroutine and flushes what is pending. A
// Recorder still counts after Close, but writes only on Flush.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { close(r.stop) })
	select {
	case <-r.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return r.Flush(ctx)
}

func (c *counts) day(date string) key.UsageDay {
	d := key.UsageDay{Date: date, Allowed: c.allowed, Denied: make(map[string]int64, len(c.denied))}
	for code, n := range c.denied {
		d.Denied[string(code)] = n
	}
	return d
}

// newToken is a ClientRequestToken: 26 random base32 characters.
func newToken() string { return rand.Text() }
