package retry

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"
)

// The waits run in synctest's bubble, on its clock: they take no real time,
// and the time they took is exact.
func TestPauseWaitsAndStopsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for n, want := range map[int][2]time.Duration{
			0: {5 * time.Millisecond, 25 * time.Millisecond}, // as attempt 1
			1: {5 * time.Millisecond, 25 * time.Millisecond},
			2: {10 * time.Millisecond, 50 * time.Millisecond},
			8: {40 * time.Millisecond, 200 * time.Millisecond},
		} {
			for range 20 {
				start := time.Now()
				if err := Pause(context.Background(), n); err != nil {
					t.Fatal(err)
				}
				if d := time.Since(start); d < want[0] || d >= want[1] {
					t.Fatalf("Pause(%d) took %v, want %v..%v", n, d, want[0], want[1])
				}
			}
		}

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		start := time.Now()
		if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) != 0 {
			t.Errorf("Sleep on a done context = %v after %v", err, time.Since(start))
		}
		ctx, cancel = context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		start = time.Now()
		if err := Sleep(ctx, time.Hour); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) != time.Minute {
			t.Errorf("Sleep past its context's deadline = %v after %v, want it to end at the deadline", err, time.Since(start))
		}
	})
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
			synctest.Test(t, func(t *testing.T) {
				tries := 0
				last := time.Now()
				err := OnConflict(context.Background(), tc.attempts, errLost, func(attempt int) error {
					tries++
					if attempt != tries {
						t.Errorf("attempt %d on try %d", attempt, tries)
					}
					// Before try n+1 OnConflict pauses as Pause(n) does.
					if n := attempt - 1; n > 0 {
						if d := time.Since(last); d < time.Duration(5*n)*time.Millisecond || d >= time.Duration(25*n)*time.Millisecond {
							t.Errorf("pause before try %d: %v", attempt, d)
						}
					} else if time.Since(last) != 0 {
						t.Errorf("the first try waited %v", time.Since(last))
					}
					last = time.Now()
					return tc.results[min(tries, len(tc.results))-1]
				})
				if tries != tc.tries {
					t.Errorf("%d tries, want %d", tries, tc.tries)
				}
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Errorf("err = %v, want %v", err, tc.want)
				}
			})
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
