// Package decide builds what the two functions that decide on keys share
// (authorize and verify): the decision engine over the stores, and the usage
// counters with their flush at shutdown.
package decide

import (
	"context"
	"log/slog"
	"time"

	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/usage"
)

// Engine returns the decision engine, caching keys for CACHE_TTL (0: no
// cache) and following the change feed.
func Engine(cfg config.Config, a *adapters.Adapters) *authz.Engine {
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = -1 // CACHE_TTL=0 turns the cache off
	}
	return authz.New(a.Store, a.Secrets, a.Store, authz.Options{CacheTTL: ttl, Feed: a.Store, Brand: cfg.Brand})
}

// Usage returns the usage recorder; it starts its background writer.
func Usage(a *adapters.Adapters, log *slog.Logger) *usage.Recorder {
	return usage.New(a.Store, usage.Options{Log: log, Metrics: metrics.Default()})
}

// MetricsEvery is how often a function that decides writes its metrics: at
// the end of the first invocation this long after the last write, and at
// shutdown. One line per decision would double the authorizer's log volume.
const MetricsEvery = 10 * time.Second

// Metric names of the engine's counts.
const (
	MetricCacheHits   = "CacheHits"
	MetricCacheMisses = "CacheMisses"
	MetricFeedLag     = "ChangeFeedLag"
	MetricFeedErrors  = "ChangeFeedErrors"
	MetricCachePurges = "CachePurges"
	MetricFeedPolls   = "ChangeFeedPolls"
	MetricKeysDropped = "CacheKeysDropped"
)

// Observe makes m write the engine's counts, as they grew since the last
// write, every MetricsEvery: cache hits and misses, looks at the change
// feed and failed ones, keys and whole caches dropped, and the longest
// change-feed lag seen (ChangeFeedLag, the time from a change's write to the
// look that showed it).
func Observe(e *authz.Engine, m *metrics.Set) {
	st := e.Stats()
	var last [6]int64
	m.FlushEvery(MetricsEvery)
	m.Collect(func(m *metrics.Set) {
		now := [...]int64{st.Hits.Load(), st.Misses.Load(), st.Polls.Load(), st.PollErrors.Load(), st.Purges.Load(), st.Dropped.Load()}
		for i, name := range [...]string{MetricCacheHits, MetricCacheMisses, MetricFeedPolls, MetricFeedErrors, MetricCachePurges, MetricKeysDropped} {
			m.Add(name, float64(now[i]-last[i]))
		}
		last = now
		if lag := st.LagMax.Swap(0); lag > 0 {
			m.Observe(MetricFeedLag, metrics.Milliseconds, float64(lag))
		}
	})
}

// FlushTimeout bounds the flush at shutdown: Lambda gives the function about
// 500 ms between SIGTERM and SIGKILL.
const FlushTimeout = 400 * time.Millisecond

// OnSIGTERM is the shutdown callback of a function that decides: it writes
// the usage counts still in memory, then the metrics, when Lambda shuts the
// container down.
func OnSIGTERM(u *usage.Recorder, log *slog.Logger) func() {
	flush := Flush(u, log, FlushTimeout)
	return func() {
		flush()
		_ = metrics.Default().Flush()
	}
}

// Flush returns the shutdown callback: it stops the recorder's background
// writer and writes what is pending, giving up after timeout, and logs how
// long it took (Lambda's window is about 500 ms).
func Flush(u *usage.Recorder, log *slog.Logger, timeout time.Duration) func() {
	return func() {
		start := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		pending := u.Pending()
		err := u.Close(ctx)
		took := float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			log.Warn("usage counts not written at shutdown", "key_days", pending, "took_ms", took, "error", err.Error())
			return
		}
		log.Info("usage counts written at shutdown", "key_days", pending, "took_ms", took)
	}
}
