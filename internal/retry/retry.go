// Package retry is the one way this service waits before trying again.
package retry

import (
	"context"
	"errors"
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

// OnConflict is the one optimistic-concurrency loop: it runs try until try
// does not lose a race to a concurrent change, at most attempts times (at
// least once), waiting Pause between tries. An error that wraps lost (such
// as the store's ErrStale) means a concurrent change won. OnConflict returns
// try's last error: nil, an error that does not wrap lost, or, when every try
// lost, the last lost race. try is told which attempt it is, from 1.
func OnConflict(ctx context.Context, attempts int, lost error, try func(attempt int) error) error {
	for attempt := 1; ; attempt++ {
		err := try(attempt)
		if err == nil || !errors.Is(err, lost) || attempt >= attempts {
			return err
		}
		if err := Pause(ctx, attempt); err != nil {
			return err
		}
	}
}
