package main

import (
	"context"
	"time"

	"github.com/paykeys/paykeys/internal/app"
)

// closeTimeout bounds writing the usage counts still in memory at shutdown.
const closeTimeout = 5 * time.Second

// closeApp writes what the application still holds in memory (usage
// counts) before the gateway exits.
func closeApp(a *app.App) {
	st := a.Engine.Stats()
	hits, misses := st.Hits.Load(), st.Misses.Load()
	a.Log.Info("authorizer cache", "hits", hits, "misses", misses,
		"hit_rate", float64(hits)/float64(max(hits+misses, 1)),
		"feed_reads", st.Polls.Load(), "feed_read_errors", st.PollErrors.Load(),
		"feed_entries", st.FeedEntries.Load(), "keys_dropped", st.Dropped.Load(), "cache_purges", st.Purges.Load())
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		a.Log.Warn("usage counts not written at shutdown", "error", err.Error())
	}
}
