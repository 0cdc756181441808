package metrics

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

// emfDoc is an EMF line as CloudWatch reads it.
type emfDoc struct {
	AWS struct {
		Timestamp         int64
		CloudWatchMetrics []struct {
			Namespace  string
			Dimensions [][]string
			Metrics    []struct{ Name, Unit string }
		}
	} `json:"_aws"`
}

func parse(t *testing.T, out string) []map[string]any {
	t.Helper()
	var docs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var d emfDoc
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &d); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		_ = json.Unmarshal([]byte(l), &m)
		if len(d.AWS.CloudWatchMetrics) != 1 || d.AWS.CloudWatchMetrics[0].Namespace != Namespace || d.AWS.Timestamp == 0 {
			t.Fatalf("line %q is not an EMF document of namespace %s", l, Namespace)
		}
		// Every dimension and metric the directive names is a member.
		dir := d.AWS.CloudWatchMetrics[0]
		for _, set := range dir.Dimensions {
			for _, name := range set {
				if _, ok := m[name].(string); !ok {
					t.Errorf("line %q: dimension %s is not a string member", l, name)
				}
			}
		}
		for _, mt := range dir.Metrics {
			if _, ok := m[mt.Name]; !ok {
				t.Errorf("line %q: metric %s has no value", l, mt.Name)
			}
		}
		docs = append(docs, m)
	}
	return docs
}

func TestFlushWritesOneLinePerDimensionValues(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, "authorize", "INFO")
	s.Add("Decisions", 1, "Code", "VALID")
	s.Add("Decisions", 1, "Code", "VALID")
	s.Add("Decisions", 1, "Code", "NOT_FOUND")
	s.Add("CacheHits", 3)
	s.Observe("DecisionLatency", Milliseconds, 1.5)
	s.Observe("DecisionLatency", Milliseconds, 2.5)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	docs := parse(t, out.String())
	if len(docs) != 3 {
		t.Fatalf("%d lines, want 3:\n%s", len(docs), out.String())
	}
	tests := []struct {
		i    int
		want map[string]any
		dims [][]string
	}{
		{0, map[string]any{"Function": "authorize", "Code": "VALID", "Decisions": 2.0, "level": "INFO"}, [][]string{{"Function", "Code"}, {"Function"}}},
		{1, map[string]any{"Code": "NOT_FOUND", "Decisions": 1.0}, [][]string{{"Function", "Code"}, {"Function"}}},
		{2, map[string]any{"CacheHits": 3.0, "DecisionLatency": []any{1.5, 2.5}}, [][]string{{"Function"}}},
	}
	for _, tt := range tests {
		for k, v := range tt.want {
			if !reflect.DeepEqual(docs[tt.i][k], v) {
				t.Errorf("line %d: %s = %v, want %v", tt.i, k, docs[tt.i][k], v)
			}
		}
		dims := docs[tt.i]["_aws"].(map[string]any)["CloudWatchMetrics"].([]any)[0].(map[string]any)["Dimensions"]
		b, _ := json.Marshal(dims)
		w, _ := json.Marshal(tt.dims)
		if string(b) != string(w) {
			t.Errorf("line %d: dimensions %s, want %s", tt.i, b, w)
		}
	}
	out.Reset()
	if err := s.Flush(); err != nil || out.Len() != 0 {
		t.Errorf("a second flush wrote %q (%v), want nothing", out.String(), err)
	}
}

func TestObserveKeepsAtMostMaxValues(t *testing.T) {
	var out bytes.Buffer
	s := New(&out, "f", "")
	for i := range MaxValues + 5 {
		s.Observe("Lag", Milliseconds, float64(i))
	}
	_ = s.Flush()
	docs := parse(t, out.String())
	if got := len(docs[0]["Lag"].([]any)); got != MaxValues {
		t.Errorf("%d values, want %d", got, MaxValues)
	}
	if _, ok := docs[0]["level"]; ok {
		t.Error("a level field without a Lambda log level")
	}
}

func TestFlushDueWaitsForTheInterval(t *testing.T) {
	var out bytes.Buffer
	now := time.Unix(1000, 0)
	s := New(&out, "f", "")
	s.now = func() time.Time { return now }
	s.FlushEvery(10 * time.Second)
	collected := 0
	s.Collect(func(s *Set) { collected++; s.Add("Hits", 1) })
	steps := []struct {
		advance time.Duration
		lines   int
	}{
		{0, 1}, // the first flush is due at once
		{5 * time.Second, 0},
		{5 * time.Second, 1},
		{time.Second, 0},
	}
	for i, st := range steps {
		now = now.Add(st.advance)
		out.Reset()
		s.Add("Decisions", 1)
		if err := s.FlushDue(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Count(out.String(), "\n"); got != st.lines {
			t.Errorf("step %d: %d lines, want %d", i, got, st.lines)
		}
	}
	if collected != 2 {
		t.Errorf("collected %d times, want once per flush (2)", collected)
	}
}
