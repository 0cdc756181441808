package rotate

import (
	"context"
	"time"
)

// Every calls run every interval in a goroutine of its own, first after one
// interval (as a rate schedule fires), until ctx is done. Calls never
// overlap: a run longer than the interval delays the next one. The returned
// channel is closed once the goroutine has ended, after any call in progress
// returned. The local gateway uses it to fire the schedule EventBridge fires
// in AWS; run gets ctx, so it stops with it.
func Every(ctx context.Context, interval time.Duration, run func(context.Context)) <-chan struct{} {
	done := make(chan struct{})
	if interval <= 0 {
		interval = time.Minute
	}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if ctx.Err() != nil {
					return
				}
				run(ctx)
			}
		}
	}()
	return done
}
