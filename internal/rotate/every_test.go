package rotate

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// The schedule runs in synctest's bubble: its clock moves only when every
// goroutine waits, so the times below are exact.
func TestEvery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var calls, running, overlapped atomic.Int32
		var starts []time.Duration
		begin := time.Now()
		done := Every(ctx, 10*time.Millisecond, func(ctx context.Context) {
			if running.Add(1) > 1 {
				overlapped.Add(1)
			}
			defer running.Add(-1)
			calls.Add(1)
			starts = append(starts, time.Since(begin))
			time.Sleep(15 * time.Millisecond) // longer than the interval
		})
		time.Sleep(99 * time.Millisecond)
		cancel()
		<-done
		if len(starts) == 0 || starts[0] != 10*time.Millisecond {
			t.Fatalf("calls started at %v; the first should be one interval in", starts)
		}
		// A call that overruns the interval delays the next one to its end
		// (the ticker keeps one tick), so they start 15ms apart.
		for i := 1; i < len(starts); i++ {
			if gap := starts[i] - starts[i-1]; gap != 15*time.Millisecond {
				t.Errorf("call %d started %v after the one before: %v", i+1, gap, starts)
			}
		}
		n := calls.Load()
		if n != 6 {
			t.Errorf("%d calls in 99ms, want 6 (at 10, 25, 40, 55, 70, 85 ms)", n)
		}
		if overlapped.Load() != 0 {
			t.Error("calls overlapped")
		}
		time.Sleep(time.Second)
		if calls.Load() != n {
			t.Error("called after the context ended")
		}
	})
}

func TestEveryDefaultsToAMinute(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		var at []time.Duration
		begin := time.Now()
		done := Every(ctx, 0, func(context.Context) { at = append(at, time.Since(begin)) })
		time.Sleep(150 * time.Second)
		cancel()
		<-done
		if len(at) != 2 || at[0] != time.Minute || at[1] != 2*time.Minute {
			t.Fatalf("calls at %v, want 1m and 2m", at)
		}
	})
}
