//go:build integration

package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// sessionMetrics are the metrics a session of TestEmulatorModeEndToEnd
// makes the functions write, with a dimension value each must have been
// written with at least once (or "" for any). The others (StoreErrors,
// UsageFlushFailures, UsageDropped, EndpointsDisabled, LifecycleStoppedAfter,
// LifecycleKeysFailed beyond 0) need a failure; their packages' tests cover
// them.
var sessionMetrics = []struct{ name, dim, value string }{
	{"Decisions", "Code", "VALID"},
	{"Decisions", "Code", "MALFORMED"},
	{"Decisions", "Code", "SIGNATURE_INVALID"},
	{"Decisions", "Code", "NONCE_REUSED"},
	{"Decisions", "Code", "REVOKED"},
	{"DecisionLatency", "", ""},
	{"CacheHits", "Function", "authorize"},
	{"CacheMisses", "Function", "authorize"},
	{"CacheHits", "Function", "verify"},
	{"ChangeFeedPolls", "", ""},
	{"ChangeFeedErrors", "", ""},
	{"ChangeFeedLag", "Function", "authorize"},
	{"CachePurges", "", ""},
	{"CacheKeysDropped", "", ""},
	{"Deliveries", "Outcome", "succeeded"},
	{"Deliveries", "Attempt", "1"},
	{"LifecycleRuns", "Result", "completed"},
	{"LifecycleKeys", "", ""},
	{"LifecycleKeysUpdated", "", ""},
	{"LifecycleKeysFailed", "", ""},
	{"LifecycleEvents", "", ""},
	{"LifecycleSecretsRetired", "", ""},
	{"LifecycleOrphanSecretsDeleted", "", ""},
	{"LifecycleDuration", "", ""},
}

// dimensionValues are the dimensions a metric may have and the values each
// may take: a handful each, never an ID.
var dimensionValues = map[string]*regexp.Regexp{
	"Function":  regexp.MustCompile(`^(authorize|claims|create|demo|keys|portal|reset|rotate|verify|webhook|webhooks)$`),
	"Code":      regexp.MustCompile(`^[A-Z_]{2,32}$`),
	"Outcome":   regexp.MustCompile(`^(succeeded|failed|gone|skipped)$`),
	"Attempt":   regexp.MustCompile(`^([1-9]|1[0-9])$`),
	"Reason":    regexp.MustCompile(`^(failing|gone)$`),
	"Result":    regexp.MustCompile(`^(completed|stopped|failed)$`),
	"Store":     regexp.MustCompile(`^(DynamoDB|Secrets Manager)$`),
	"Operation": regexp.MustCompile(`^[A-Z][A-Za-z]{2,40}$`),
}

// lateness runs f and returns the most a short timer of this process fired
// late meanwhile: how far behind the machine ran the test, and the
// gateway in it, whose timers end the emulators' shutdown window. On an
// idle machine it is about a millisecond.
func lateness(f func()) time.Duration {
	const tick = 5 * time.Millisecond
	done, worst := make(chan struct{}), make(chan time.Duration)
	go func() {
		var w time.Duration
		for {
			start := time.Now()
			select {
			case <-done:
				worst <- w
				return
			case <-time.After(tick):
				w = max(w, time.Since(start)-tick)
			}
		}
	}()
	f()
	close(done)
	return <-worst
}

// loadAverage is the machine's one-minute load average, for reports.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Fields(string(b))[0]
}

type emfDirective struct {
	Namespace  string
	Dimensions [][]string
	Metrics    []struct{ Name, Unit string }
}

// checkOperating checks the functions' output of a session: every metric
// the session exercised is written as valid EMF under its own name, with
// only low-cardinality dimensions; no line holds a secret, and no metric line
// an ID; decision lines carry Lambda's request ID beside API Gateway's; the
// authorizer wrote its usage counts at SIGTERM within Lambda's window
// (shutdownWindow, which the gateway enforces with SIGKILL). late is how
// far behind this machine ran the gateway's timers during the shutdown
// (see lateness): the window's end is not counted against a flush that
// ended within it, but it is reported.
func checkOperating(t *testing.T, out string, secrets, ids []string, late time.Duration) {
	t.Helper()
	for _, s := range secrets {
		if len(s) < 30 {
			t.Fatalf("secret %q too short to search for", s)
		}
		for _, part := range []string{s, s[len(s)-30:]} {
			if i := strings.Index(out, part); i >= 0 {
				t.Errorf("the output holds a secret near: %q", out[max(0, i-200):min(len(out), i+len(part)+50)])
			}
		}
	}
	type seen struct{ dims map[string]string }
	emf, decisions, shutdown, written := 0, 0, 0, map[string][]seen{}
	flushed := 0.0 // key-days written at SIGTERM
	for _, line := range strings.Split(out, "\n") {
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var doc map[string]any
		if json.Unmarshal([]byte(line), &doc) != nil {
			continue
		}
		if doc["message"] == "decision" {
			decisions++
			if rid, _ := doc["requestId"].(string); rid == "" || rid == doc["request_id"] {
				t.Errorf("decision line without Lambda's request ID beside API Gateway's: %s", line)
			}
		}
		// Written or given up on (a slow store), the flush ends within
		// Lambda's window.
		if msg, _ := doc["message"].(string); strings.HasPrefix(msg, "usage counts ") && strings.HasSuffix(msg, " at shutdown") {
			shutdown++
			kd, _ := doc["key_days"].(float64)
			flushed += kd
			window := float64(shutdownWindow.Milliseconds())
			ms, ok := doc["took_ms"].(float64)
			switch {
			case !ok || ms >= window+float64(late.Milliseconds()):
				t.Errorf("usage flush at shutdown took %v ms, not within Lambda's %v ms window (and the %v this machine ran late): %s", doc["took_ms"], window, late, line)
			case ms >= window:
				t.Logf("usage flush at shutdown took %v ms: over Lambda's %v ms window on the clock, within the %v this machine ran the gateway's timers late meanwhile (load average %s), so not counted; its own bound, decide.FlushTimeout, is checked exactly by TestFlushAtShutdown",
					ms, window, late, loadAverage())
			}
			t.Logf("usage flush at SIGTERM: %s", line)
		}
		raw, ok := doc["_aws"]
		if !ok {
			continue
		}
		emf++
		for _, id := range ids {
			if strings.Contains(line, id) {
				t.Errorf("metric line holds the ID %s: %s", id, line)
			}
		}
		var meta struct {
			Timestamp         int64
			CloudWatchMetrics []emfDirective
		}
		b, _ := json.Marshal(raw)
		if json.Unmarshal(b, &meta) != nil || meta.Timestamp == 0 || len(meta.CloudWatchMetrics) != 1 {
			t.Errorf("not an EMF document: %s", line)
			continue
		}
		d := meta.CloudWatchMetrics[0]
		if d.Namespace != "paykeys" || len(d.Dimensions) == 0 || len(d.Metrics) == 0 {
			t.Errorf("EMF directive without namespace paykeys, dimensions or metrics: %s", line)
			continue
		}
		dims := map[string]string{}
		for _, set := range d.Dimensions {
			for _, name := range set {
				v, _ := doc[name].(string)
				re := dimensionValues[name]
				switch {
				case re == nil:
					t.Errorf("dimension %s is not one of the known few: %s", name, line)
				case !re.MatchString(v):
					t.Errorf("dimension %s=%q is not a low-cardinality value: %s", name, v, line)
				}
				dims[name] = v
			}
		}
		for _, m := range d.Metrics {
			if !slices.Contains(emittedMetrics, m.Name) {
				t.Errorf("metric %s is not one the code names: %s", m.Name, line)
			}
			if _, ok := doc[m.Name]; !ok {
				t.Errorf("metric %s has no value: %s", m.Name, line)
			}
			written[m.Name] = append(written[m.Name], seen{dims})
		}
	}
	for _, w := range sessionMetrics {
		found := slices.ContainsFunc(written[w.name], func(s seen) bool { return w.dim == "" || s.dims[w.dim] == w.value })
		if !found {
			t.Errorf("no %s metric with %s=%q in the session's output", w.name, w.dim, w.value)
		}
	}
	if emf < 5 || decisions < 10 {
		t.Errorf("%d metric lines and %d decision lines: the functions' output was not captured", emf, decisions)
	}
	if shutdown == 0 || flushed == 0 {
		t.Errorf("%d functions flushed %v key-days of usage counts at SIGTERM, want some", shutdown, flushed)
	}
	if t.Failed() {
		lines := strings.Split(out, "\n")
		t.Logf("the functions' last output lines:\n%s", strings.Join(lines[max(0, len(lines)-60):], "\n"))
	}
}
