package rotate

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// emptyStore has nothing due.
type emptyStore struct{ Store }

func (emptyStore) DueKeys(context.Context, time.Time, string, int) ([]store.DueKey, string, error) {
	return nil, "", nil
}

func (emptyStore) GetKey(context.Context, string) (*key.Key, error) { panic("not called") }

// TestHandleSampleEvent decodes the sample scheduled event in events/rotate
// and runs the job once on it.
func TestHandleSampleEvent(t *testing.T) {
	ev := sampleEvent(t, "scheduled.json")
	if ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Fatalf("sample event: %+v", ev)
	}
	j := New(emptyStore{}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	st, err := j.Handle(context.Background(), ev)
	if err != nil || st.Pages != 1 || st.IndexItems != 0 || st.Stopped {
		t.Errorf("Handle: %+v, %v", st, err)
	}
	out, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(out, &m); err != nil || m["index_items"] == nil || m["events_by_type"] == nil {
		t.Errorf("result JSON %s", out)
	}
}

// TestDefaultSampleEventIsScheduled: make invoke-rotate sends the first
// sample event of events/rotate by name, which must be a plain scheduled
// run, not a request that fails on the default secret store.
func TestDefaultSampleEventIsScheduled(t *testing.T) {
	entries, err := os.ReadDir("../../events/rotate")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".json") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		t.Fatal("no sample event in events/rotate")
	}
	slices.Sort(names)
	ev := sampleEvent(t, names[0])
	if ev.DetailType != "Scheduled Event" || strings.TrimSpace(string(ev.Detail)) != "{}" {
		t.Errorf("the first sample event, %s, is %q with detail %s; make invoke-rotate needs a scheduled run", names[0], ev.DetailType, ev.Detail)
	}
}

// sampleEvent reads a sample event of events/rotate.
func sampleEvent(t *testing.T, name string) events.EventBridgeEvent {
	t.Helper()
	raw, err := os.ReadFile("../../events/rotate/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}
