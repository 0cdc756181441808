package retry

import (
	"context"
	"errors"
	"fmt"
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

func TestOnConflict(t *testing.T) {
	errLost := errors.New("lost")
	errOther := errors.New("other")
	wrapped := fmt.Errorf("save: %w", errLost)
	for _, tc := range []struct {
		name     string
		attempts int
		results  []error // what each try returns; the last repeats
		want     error
		tries    int
	}{
		{"first try wins", 8, []error{nil}, nil, 1},
		{"wins after two lost races", 8, []error{wrapped, wrapped, nil}, nil, 3},
		{"another error stops at once", 8, []error{wrapped, errOther}, errOther, 2},
		{"every try lost", 3, []error{wrapped}, errLost, 3},
		{"at least one try", 0, []error{wrapped}, errLost, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tries := 0
			err := OnConflict(context.Background(), tc.attempts, errLost, func(attempt int) error {
				tries++
				if attempt != tries {
					t.Errorf("attempt %d on try %d", attempt, tries)
				}
				return tc.results[min(tries, len(tc.results))-1]
			})
			if tries != tc.tries {
				t.Errorf("%d tries, want %d", tries, tc.tries)
			}
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOnConflictStopsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	lost := errors.New("lost")
	tries := 0
	err := OnConflict(ctx, 8, lost, func(int) error { tries++; return lost })
	if !errors.Is(err, context.Canceled) || tries != 1 {
		t.Errorf("err = %v after %d tries, want context.Canceled after 1", err, tries)
	}
}
