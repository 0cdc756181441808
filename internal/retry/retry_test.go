package retry

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPauseWaitsAndStopsWithItsContext(t *testing.T) {
	start := time.Now()
	if err := Pause(context.Background(), 2); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 10*time.Millisecond || d > time.Second {
		t.Errorf("Pause(2) took %v, want 10..50 ms", d)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep on a done context = %v", err)
	}
}
