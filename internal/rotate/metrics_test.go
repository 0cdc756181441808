package rotate

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/metrics"
)

// A run's metrics say how it ended, and when it stopped early, after how long.
func TestRecordSaysHowARunEnded(t *testing.T) {
	tests := []struct {
		name string
		st   Stats
		err  error
		want []string
		not  []string
	}{
		{"completed", Stats{Keys: 3, Updated: 2, Events: 2, DurationMS: 40}, nil,
			[]string{`"Result":"completed"`, `"LifecycleKeys":3`, `"LifecycleKeysUpdated":2`, `"LifecycleEvents":2`, `"LifecycleDuration":40`},
			[]string{"LifecycleStoppedAfter"}},
		{"stopped at its deadline", Stats{Keys: 900, Stopped: true, DurationMS: 870000}, context.DeadlineExceeded,
			[]string{`"Result":"stopped"`, `"LifecycleStoppedAfter":870000`}, nil},
		{"failed", Stats{Keys: 4, Failed: 1, DurationMS: 12}, errors.New("rotate: 1 keys failed"),
			[]string{`"Result":"failed"`, `"LifecycleKeysFailed":1`}, []string{"LifecycleStoppedAfter"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			j := &Job{Metrics: metrics.New(&out, "rotate", "")}
			j.record(tt.st, tt.err)
			if err := j.Metrics.Flush(); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("no %s in:\n%s", w, out.String())
				}
			}
			for _, n := range tt.not {
				if strings.Contains(out.String(), n) {
					t.Errorf("%s in:\n%s", n, out.String())
				}
			}
		})
	}
}
