// Package decide builds what the two functions that decide on keys share
// (authorize and verify): the decision engine over the stores, and the usage
// counters with their flush at shutdown.
package decide

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/config"
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
	return usage.New(a.Store, usage.Options{Log: log})
}

// FlushTimeout bounds the flush at shutdown: Lambda gives the function about
// 500 ms between SIGTERM and SIGKILL.
const FlushTimeout = 400 * time.Millisecond

// FlushOnSIGTERM is the runtime option that writes the usage counts still in
// memory when Lambda shuts the container down.
func FlushOnSIGTERM(u *usage.Recorder, log *slog.Logger) lambda.Option {
	return lambda.WithEnableSIGTERM(Flush(u, log, FlushTimeout))
}

// Flush returns the shutdown callback: it stops the recorder's background
// writer and writes what is pending, giving up after timeout.
func Flush(u *usage.Recorder, log *slog.Logger, timeout time.Duration) func() {
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		if err := u.Close(ctx); err != nil {
			log.Warn("usage counts not written at shutdown", "error", err.Error())
		}
	}
}
