package rotate

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestEvery(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls, running, overlapped atomic.Int32
	first := make(chan time.Time, 1)
	start := time.Now()
	done := Every(ctx, 10*time.Millisecond, func(ctx context.Context) {
		if running.Add(1) > 1 {
			overlapped.Add(1)
		}
		defer running.Add(-1)
		if calls.Add(1) == 1 {
			first <- time.Now()
		}
		time.Sleep(15 * time.Millisecond) // longer than the interval
	})
	if at := <-first; at.Sub(start) < 10*time.Millisecond {
		t.Errorf("first call after %v, before one interval", at.Sub(start))
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal("Every did not stop")
	}
	n := calls.Load()
	if n < 3 {
		t.Errorf("%d calls in about 100ms", n)
	}
	if overlapped.Load() != 0 {
		t.Error("calls overlapped")
	}
	time.Sleep(30 * time.Millisecond)
	if calls.Load() != n {
		t.Error("called after the context ended")
	}
}
