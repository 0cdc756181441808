// Package metrics writes CloudWatch metrics as Embedded Metric Format (EMF)
// lines on stdout: CloudWatch Logs turns each line into metric data points,
// so recording a metric makes no API call and needs no agent.
//
// Metrics are aggregated in memory and written by Flush, one line per set of
// dimension values, each line holding every metric recorded with those
// values: counts are summed, other values kept (up to MaxValues per metric
// and line, as EMF allows). Functions flush at the end of each invocation
// (start.Main), the two that decide on keys at most once every FlushEvery
// and at shutdown, so a busy authorizer writes a few lines a minute, not one
// per decision.
//
// Dimensions must have few values: a decision code, an outcome, a store. A
// key ID or a merchant ID is never a dimension (nor a metric name).
package metrics

import (
	"encoding/json"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

// Namespace is the CloudWatch namespace of every metric.
const Namespace = "paykeys"

// MaxValues is the most values one metric may carry in one EMF line.
const MaxValues = 100

// Units.
const (
	Count        = "Count"
	Milliseconds = "Milliseconds"
)

// Every line also carries the dimension Function, the function's name.
const functionDim = "Function"

// Set aggregates metrics until they are flushed. It is safe for concurrent use.
type Set struct {
	mu       sync.Mutex
	out      io.Writer
	function string
	level    string // the level field of each line, so Lambda's log-level filter keeps it
	now      func() time.Time
	every    time.Duration
	last     time.Time
	lines    map[string]*line
	order    []string
	collect  []func(*Set)
}

type line struct {
	dims    []string // name, value, name, value, … (Function first)
	metrics map[string]*metric
	names   []string
}

type metric struct {
	unit   string
	sum    float64
	values []float64 // for units other than Count
}

// New returns a Set writing to out for the named function. level is the
// log level Lambda filters application logs at ("" when it does not).
func New(out io.Writer, function, level string) *Set {
	return &Set{out: out, function: function, level: level, now: time.Now, lines: map[string]*line{}}
}

// std is the process's Set: a Lambda function's, on stdout, named by
// Lambda's environment.
var std = New(os.Stdout, os.Getenv("AWS_LAMBDA_FUNCTION_NAME"), os.Getenv("AWS_LAMBDA_LOG_LEVEL"))

// Default returns the process's Set.
func Default() *Set { return std }

// Add adds n to the count name with the dimensions dims (name, value
// pairs) besides Function. A metric is published under every prefix of its
// dimensions: Deliveries with Outcome and Attempt is also published with
// Outcome alone, and with Function alone.
func (s *Set) Add(name string, n float64, dims ...string) { s.record(name, Count, n, dims) }

// Observe records one value of name (a latency, a lag) in unit.
func (s *Set) Observe(name, unit string, v float64, dims ...string) { s.record(name, unit, v, dims) }

// Collect registers f, which Flush calls first: a source that counts on its
// own (a cache's hits) reports what it counted since the last flush.
func (s *Set) Collect(f func(*Set)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.collect = append(s.collect, f)
}

// FlushEvery makes FlushDue write at most once every d (0: every time).
func (s *Set) FlushEvery(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.every = d
}

func (s *Set) record(name, unit string, v float64, dims []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(dims)%2 != 0 {
		dims = dims[:len(dims)-1] // a name without a value
	}
	k := strings.Join(dims, "\x00")
	l, ok := s.lines[k]
	if !ok {
		l = &line{dims: append([]string{functionDim, s.function}, dims...), metrics: map[string]*metric{}}
		s.lines[k] = l
		s.order = append(s.order, k)
	}
	m, ok := l.metrics[name]
	if !ok {
		m = &metric{unit: unit}
		l.metrics[name] = m
		l.names = append(l.names, name)
	}
	m.sum += v
	if unit != Count && len(m.values) < MaxValues {
		m.values = append(m.values, v)
	}
}

// FlushDue flushes when FlushEvery has passed since the last flush.
func (s *Set) FlushDue() error {
	s.mu.Lock()
	due := s.now().Sub(s.last) >= s.every
	s.mu.Unlock()
	if !due {
		return nil
	}
	return s.Flush()
}

// Flush writes what was recorded since the last flush, one EMF line per set
// of dimension values, and forgets it.
func (s *Set) Flush() error {
	s.mu.Lock()
	collect := slices.Clone(s.collect)
	s.mu.Unlock()
	for _, f := range collect {
		f(s)
	}
	s.mu.Lock()
	lines, order := s.lines, s.order
	s.lines, s.order, s.last = map[string]*line{}, nil, s.now()
	now := s.last
	s.mu.Unlock()
	var buf []byte
	for _, k := range order {
		b, err := lines[k].emf(now, s.level)
		if err != nil {
			return err
		}
		buf = append(append(buf, b...), '\n')
	}
	if len(buf) == 0 {
		return nil
	}
	_, err := s.out.Write(buf)
	return err
}

// emf is the line's EMF document.
func (l *line) emf(now time.Time, level string) ([]byte, error) {
	type metricDef struct {
		Name string `json:"Name"`
		Unit string `json:"Unit"`
	}
	doc := map[string]any{}
	var names []string
	for i := 0; i+1 < len(l.dims); i += 2 {
		doc[l.dims[i]] = l.dims[i+1]
		names = append(names, l.dims[i])
	}
	var sets [][]string
	for i := len(names); i > 0; i-- {
		sets = append(sets, names[:i])
	}
	var defs []metricDef
	for _, name := range l.names {
		m := l.metrics[name]
		defs = append(defs, metricDef{Name: name, Unit: m.unit})
		switch {
		case m.unit == Count:
			doc[name] = m.sum
		case len(m.values) == 1:
			doc[name] = m.values[0]
		default:
			doc[name] = m.values
		}
	}
	doc["_aws"] = map[string]any{
		"Timestamp": now.UnixMilli(),
		"CloudWatchMetrics": []any{map[string]any{
			"Namespace": Namespace, "Dimensions": sets, "Metrics": defs,
		}},
	}
	if level != "" {
		doc["level"] = level
	}
	return json.Marshal(doc)
}
