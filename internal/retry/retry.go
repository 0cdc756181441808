// Package retry is the one way this service waits before trying again.
package retry

import (
	"context"
	"math/rand/v2"
	"time"
)

// Sleep waits d, or returns ctx's error if it is done first.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Pause waits a short, jittered time before attempt n+1 of an optimistic
// write that lost a race: 5n ms plus up to 20n ms more.
func Pause(ctx context.Context, n int) error {
	n = max(n, 1)
	return Sleep(ctx, time.Duration(5*n+rand.IntN(20*n))*time.Millisecond)
}
