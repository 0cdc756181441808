package decide_test

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paykeys/paykeys/internal/app/decide"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/usage"
)

// sink records usage writes; with hang set, every write waits for its
// context to end.
type sink struct {
	hang    bool
	mu      sync.Mutex
	allowed map[string]int64
}

func (s *sink) AddUsage(ctx context.Context, id string, d key.UsageDay, _ string) error {
	if s.hang {
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.allowed[id] += d.Allowed
	return nil
}

func (s *sink) SetLastUsed(ctx context.Context, _ string, _ time.Time, _ string) (bool, error) {
	if s.hang {
		<-ctx.Done()
		return false, ctx.Err()
	}
	return true, nil
}

// The shutdown callback writes the counts still in memory, and gives up at
// FlushTimeout when the store does not answer. It runs in synctest's
// bubble, whose clock moves only when every goroutine waits: the time it
// took is exact, whatever the machine's load.
func TestFlushAtShutdown(t *testing.T) {
	const id = "ck_test_5Vq0aB1cD2eF3gH4iJ5kL6"
	tests := []struct {
		name        string
		hang        bool
		wantAllowed int64
		wantWarning bool
		wantTook    time.Duration
	}{
		{"writes what is pending", false, 2, false, 0},
		{"gives up at its bound when the store hangs", true, 0, true, decide.FlushTimeout},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &sink{hang: tt.hang, allowed: map[string]int64{}}
				var logs bytes.Buffer
				log := slog.New(slog.NewJSONHandler(&logs, nil))
				// A long interval: only the shutdown flush writes.
				u := usage.New(s, usage.Options{FlushInterval: time.Hour})
				d := key.Decision{Code: key.CodeValid, Key: &key.Key{ID: id}, ClientID: id}
				u.Record(d, "192.0.2.1", time.Now())
				u.Record(d, "192.0.2.1", time.Now())
				start := time.Now()
				decide.Flush(u, log, decide.FlushTimeout)()
				if took := time.Since(start); took != tt.wantTook {
					t.Errorf("flush took %v, want %v", took, tt.wantTook)
				}
				s.mu.Lock()
				got := s.allowed[id]
				s.mu.Unlock()
				if got != tt.wantAllowed {
					t.Errorf("allowed written = %d, want %d", got, tt.wantAllowed)
				}
				if warned := strings.Contains(logs.String(), "usage counts not written at shutdown"); warned != tt.wantWarning {
					t.Errorf("warning logged = %v, want %v: %s", warned, tt.wantWarning, logs.String())
				}
			})
		})
	}
}

// Lambda gives a function about 500 ms between SIGTERM and SIGKILL.
func TestFlushTimeoutFitsLambdasWindow(t *testing.T) {
	if decide.FlushTimeout <= 0 || decide.FlushTimeout >= 500*time.Millisecond {
		t.Errorf("FlushTimeout = %v, want within (0, 500ms)", decide.FlushTimeout)
	}
}
