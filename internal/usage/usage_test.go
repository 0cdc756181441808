package usage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

// fakeSink keeps counts the way the table does, applying each token once.
type fakeSink struct {
	mu      sync.Mutex
	days    map[string]key.UsageDay // client ID + "/" + date
	last    map[string]lastUse
	tokens  map[string]bool
	calls   int
	unknown map[string]bool // client IDs with no key

	// failAdd makes the next n AddUsage calls fail; applied says whether
	// such a failed call was applied anyway (a timeout after the write).
	failAdd int
	applied bool
	failSet int
	refuse  int // the next n AddUsage calls are refused for sure
	// tokensSeen lists the token of every AddUsage call.
	tokensSeen []string
	block      chan struct{} // when set, every call waits for it to close
	entered    chan struct{} // told when a call starts, if set
}

func newSink() *fakeSink {
	return &fakeSink{days: map[string]key.UsageDay{}, last: map[string]lastUse{}, tokens: map[string]bool{}, unknown: map[string]bool{}}
}

var errBoom = errors.New("dynamodb: connection reset")

func (s *fakeSink) wait() {
	s.mu.Lock()
	block, entered := s.block, s.entered
	s.mu.Unlock()
	if entered != nil {
		select {
		case entered <- struct{}{}:
		default:
		}
	}
	if block != nil {
		<-block
	}
}

func (s *fakeSink) AddUsage(_ context.Context, id string, d key.UsageDay, token string) error {
	s.wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if s.unknown[id] {
		return fmt.Errorf("add usage: %w", key.NotFound("key", id))
	}
	s.tokensSeen = append(s.tokensSeen, token)
	if s.refuse > 0 {
		s.refuse--
		return fmt.Errorf("add usage: %w: TransactionCanceledException", store.ErrUsageNotWritten)
	}
	fail := s.failAdd > 0
	if fail {
		s.failAdd--
		if !s.applied {
			return errBoom
		}
	}
	if token == "" {
		panic("no request token")
	}
	if !s.tokens[token] {
		s.tokens[token] = true
		cur := s.days[id+"/"+d.Date]
		cur.Date = d.Date
		cur.Allowed += d.Allowed
		if cur.Denied == nil {
			cur.Denied = map[string]int64{}
		}
		for c, n := range d.Denied {
			cur.Denied[c] += n
		}
		s.days[id+"/"+d.Date] = cur
	}
	if fail {
		return errBoom
	}
	return nil
}

func (s *fakeSink) SetLastUsed(_ context.Context, id string, at time.Time, ip string) (bool, error) {
	s.wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSet > 0 {
		s.failSet--
		return false, errBoom
	}
	if l, ok := s.last[id]; ok && !at.After(l.at) {
		return false, nil
	}
	s.last[id] = lastUse{at: at, ip: ip}
	return true, nil
}

func (s *fakeSink) day(id, date string) key.UsageDay {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.days[id+"/"+date]
	d.Denied = maps.Clone(d.Denied)
	return d
}

func (s *fakeSink) callCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func proven(id string, code key.Code) authz.Decision {
	return authz.Decision{Code: code, Key: &key.Key{ID: id}, ClientID: id}
}

func unproven(id string, code key.Code) authz.Decision {
	return authz.Decision{Code: code, ClientID: id}
}

// newRecorder returns a recorder whose background flushes wait an hour,
// so only the test's own Flush calls write, unless o says otherwise.
func newRecorder(t *testing.T, sink Sink, o Options) (*Recorder, *testenv.LogBuffer) {
	t.Helper()
	logs := &testenv.LogBuffer{}
	if o.FlushInterval == 0 {
		o.FlushInterval = time.Hour
	}
	o.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := New(sink, o)
	t.Cleanup(func() {
		r.closeOnce.Do(func() { close(r.stop) })
		<-r.done
	})
	return r, logs
}

func TestAggregation(t *testing.T) {
	sink := newSink()
	r, _ := newRecorder(t, sink, Options{})
	a, b := key.NewClientID(key.EnvTest), key.NewClientID(key.EnvLive)
	day2 := t0.Add(24 * time.Hour)

	for i := range 3 {
		r.Record(proven(a, key.CodeValid), "203.0.113.7", t0.Add(time.Duration(i)*time.Minute))
	}
	r.Record(proven(a, key.CodeValid), "203.0.113.1", t0.Add(-time.Minute)) // earlier: not the last use
	r.Record(proven(a, key.CodeInsufficientScope), "203.0.113.9", t0.Add(time.Hour))
	r.Record(unproven(a, key.CodeNotFound), "198.51.100.1", t0)
	r.Record(unproven(a, key.CodeNotFound), "198.51.100.1", t0)
	r.Record(unproven(b, key.CodeSignatureInvalid), "198.51.100.2", t0)
	r.Record(proven(a, key.CodeRevoked), "", day2)
	// Counted nowhere: no client ID, or not one.
	r.Record(authz.Decision{Code: key.CodeMalformed}, "198.51.100.3", t0)
	r.Record(unproven("ck_test_short", key.CodeNotFound), "198.51.100.3", t0)
	r.Record(authz.Decision{Code: key.CodeMalformed, Mode: key.ModeHMAC}, "198.51.100.3", t0)

	if got := r.Pending(); got != 3 {
		t.Fatalf("pending key-days = %d, want 3", got)
	}
	if sink.callCount() != 0 {
		t.Fatal("Record wrote to the sink")
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]key.UsageDay{
		a + "/2026-11-23": {Date: "2026-11-23", Allowed: 4, Denied: map[string]int64{"INSUFFICIENT_SCOPE": 1, "NOT_FOUND": 2}},
		a + "/2026-11-24": {Date: "2026-11-24", Denied: map[string]int64{"REVOKED": 1}},
		b + "/2026-11-23": {Date: "2026-11-23", Denied: map[string]int64{"SIGNATURE_INVALID": 1}},
	}
	if len(sink.days) != len(want) {
		t.Fatalf("sink holds %d key-days, want %d: %v", len(sink.days), len(want), sink.days)
	}
	for k, w := range want {
		g := sink.days[k]
		if g.Date != w.Date || g.Allowed != w.Allowed || !maps.Equal(g.Denied, w.Denied) {
			t.Errorf("%s = %+v, want %+v", k, g, w)
		}
	}
	if l := sink.last[a]; !l.at.Equal(t0.Add(2*time.Minute)) || l.ip != "203.0.113.7" {
		t.Errorf("last use of a = %v from %q, want the latest allowed decision", l.at, l.ip)
	}
	if _, ok := sink.last[b]; ok {
		t.Error("a key with no allowed decision got a last use")
	}
	if r.Pending() != 0 {
		t.Errorf("pending after a successful flush = %d", r.Pending())
	}
	calls := sink.callCount()
	if err := r.Flush(context.Background()); err != nil || sink.callCount() != calls {
		t.Errorf("an empty flush wrote (%v)", err)
	}
}

func TestBound(t *testing.T) {
	sink := newSink()
	var emf bytes.Buffer
	r, logs := newRecorder(t, sink, Options{MaxEntries: 8, Metrics: metrics.New(&emf, "authorize", "")})
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = key.NewClientID(key.EnvTest)
	}
	// Unproven client IDs may take a quarter of the bound: 2.
	for _, id := range ids[:3] {
		r.Record(unproven(id, key.CodeNotFound), "", t0)
	}
	if r.Pending() != 2 || r.Dropped() != 1 {
		t.Fatalf("pending %d dropped %d, want 2 and 1", r.Pending(), r.Dropped())
	}
	// A proven decision turns an unproven entry into a proven one.
	r.Record(proven(ids[0], key.CodeValid), "", t0)
	r.Record(unproven(ids[2], key.CodeNotFound), "", t0)
	if r.Pending() != 3 || r.Dropped() != 1 {
		t.Fatalf("pending %d dropped %d, want 3 and 1", r.Pending(), r.Dropped())
	}
	for _, id := range ids[3:] {
		r.Record(proven(id, key.CodeValid), "", t0)
	}
	// 3 + 7 proven = 10 > 8: two were dropped; existing entries still count.
	if r.Pending() != 8 || r.Dropped() != 3 {
		t.Fatalf("pending %d dropped %d, want 8 and 3", r.Pending(), r.Dropped())
	}
	r.Record(proven(ids[0], key.CodeValid), "", t0)
	r.Record(proven(ids[0], key.CodeValid), "", t0.Add(24*time.Hour)) // a new key-day: dropped
	if r.Dropped() != 4 {
		t.Fatalf("dropped %d, want 4", r.Dropped())
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.day(ids[0], "2026-11-23").Allowed; got != 2 {
		t.Errorf("allowed of an entry held at the bound = %d, want 2", got)
	}
	if len(sink.days) != 8 {
		t.Errorf("sink holds %d key-days, want 8", len(sink.days))
	}
	if !strings.Contains(logs.String(), `"msg":"usage decisions dropped","dropped":4`) {
		t.Errorf("no log line counting the dropped decisions: %s", logs.String())
	}
	if _ = r.o.Metrics.Flush(); !strings.Contains(emf.String(), `"UsageDropped":4`) {
		t.Errorf("no UsageDropped metric of 4: %s", emf.String())
	}
	if r.Dropped() != 0 {
		t.Error("the drop count was not reset once logged")
	}
}

// The background flush runs in synctest's bubble, on its fake clock: the
// poller fires every millisecond of that clock, and synctest.Wait lets every
// poll that is due run before the test looks.
func TestFlushOnInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newSink()
		r, _ := newRecorder(t, sink, Options{FlushInterval: 10 * time.Second, Poll: time.Millisecond})
		id := key.NewClientID(key.EnvTest)
		day := time.Now().UTC().Format(time.DateOnly)

		r.Record(proven(id, key.CodeValid), "", time.Now())
		time.Sleep(5 * time.Second)
		r.Record(proven(id, key.CodeValid), "", time.Now()) // a later decision does not postpone the flush
		time.Sleep(5*time.Second - time.Millisecond)
		synctest.Wait()
		if sink.callCount() != 0 {
			t.Fatal("flushed before the oldest entry was FlushInterval old")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if got := sink.day(id, day).Allowed; got != 2 || r.Pending() != 0 {
			t.Fatalf("after FlushInterval: %d allowed in the sink, %d pending", got, r.Pending())
		}

		// The next entry waits its own interval from when it arrived.
		r.Record(proven(id, key.CodeDisabled), "", time.Now())
		time.Sleep(10*time.Second - time.Millisecond)
		synctest.Wait()
		if sink.day(id, day).Denied["DISABLED"] != 0 {
			t.Fatal("flushed a fresh entry early")
		}
		time.Sleep(2 * time.Millisecond)
		synctest.Wait()
		if sink.day(id, day).Denied["DISABLED"] != 1 {
			t.Fatal("the second entry was not flushed once due")
		}
	})
}

// Poll never fires in this test: only Record can start the flush, as in a
// Lambda container thawed after the interval passed. In synctest's bubble,
// synctest.Wait returns once the flush Record started is done.
func TestRecordKicksAFlushWhenDue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sink := newSink()
		clk := testenv.NewClock(t0)
		r, _ := newRecorder(t, sink, Options{FlushInterval: 10 * time.Second, Poll: time.Hour, Now: clk.Now})
		id := key.NewClientID(key.EnvTest)
		r.Record(proven(id, key.CodeValid), "", t0)
		synctest.Wait()
		if sink.callCount() != 0 {
			t.Fatal("flushed before the interval")
		}
		clk.Advance(time.Minute)
		r.Record(proven(id, key.CodeValid), "", t0)
		synctest.Wait()
		if got := sink.day(id, "2026-11-23").Allowed; got != 2 {
			t.Fatalf("%d allowed flushed, want 2: Record did not start the flush that was due", got)
		}
	})
}

func TestFailureRetained(t *testing.T) {
	for _, applied := range []bool{false, true} {
		t.Run(fmt.Sprintf("applied=%v", applied), func(t *testing.T) {
			sink := newSink()
			sink.failAdd, sink.applied, sink.failSet = 1, applied, 1
			clk := testenv.NewClock(t0)
			var emf bytes.Buffer
			r, logs := newRecorder(t, sink, Options{FlushInterval: 10 * time.Second, Now: clk.Now, Poll: time.Hour,
				Metrics: metrics.New(&emf, "authorize", "")})
			id := key.NewClientID(key.EnvTest)
			r.Record(proven(id, key.CodeValid), "203.0.113.7", t0)
			r.Record(proven(id, key.CodeValid), "203.0.113.7", t0.Add(time.Second))

			err := r.Flush(context.Background())
			if !errors.Is(err, errBoom) {
				t.Fatalf("flush error = %v, want the sink's", err)
			}
			if r.Pending() != 1 {
				t.Fatalf("pending after a failed flush = %d, want 1", r.Pending())
			}
			if !strings.Contains(logs.String(), "usage flush failed") {
				t.Errorf("the failure was not logged: %s", logs.String())
			}
			if _ = r.o.Metrics.Flush(); !strings.Contains(emf.String(), `"UsageFlushFailures":1`) {
				t.Errorf("no UsageFlushFailures metric of 1: %s", emf.String())
			}
			r.mu.Lock()
			due := r.dueLocked(clk.Now().Add(9 * time.Second))
			r.mu.Unlock()
			if due {
				t.Error("a failed write is retried before FlushInterval")
			}

			// More decisions for the same key-day arrive meanwhile.
			r.Record(proven(id, key.CodeValid), "203.0.113.8", t0.Add(2*time.Second))
			if err := r.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := sink.day(id, "2026-11-23").Allowed; got != 3 {
				t.Errorf("allowed = %d, want 3: counted once each whether or not the failed write was applied", got)
			}
			if l := sink.last[id]; !l.at.Equal(t0.Add(2*time.Second)) || l.ip != "203.0.113.8" {
				t.Errorf("last use = %v %q", l.at, l.ip)
			}
			if r.Pending() != 0 {
				t.Errorf("pending = %d after the retry", r.Pending())
			}
		})
	}
}

func TestTokens(t *testing.T) {
	sink := newSink()
	sink.failAdd, sink.refuse = 1, 0
	r, _ := newRecorder(t, sink, Options{})
	id := key.NewClientID(key.EnvTest)
	r.Record(proven(id, key.CodeValid), "", t0)

	// An unknown outcome (a timeout) is retried with the same token...
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("flush did not fail")
	}
	sink.refuse = 1
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("flush did not fail")
	}
	// ...and a write refused for sure with a new one.
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	ts := sink.tokensSeen
	if len(ts) != 3 || ts[0] != ts[1] || ts[2] == ts[1] || len(ts[0]) > 36 {
		t.Errorf("tokens %q: want the same token after a timeout and a new one after a refusal", ts)
	}
	if got := sink.day(id, "2026-11-23").Allowed; got != 1 {
		t.Errorf("allowed = %d, want 1", got)
	}
}

func TestUnknownKeysAreDiscarded(t *testing.T) {
	sink := newSink()
	r, _ := newRecorder(t, sink, Options{})
	ghost := key.NewClientID(key.EnvTest)
	sink.unknown[ghost] = true
	r.Record(unproven(ghost, key.CodeNotFound), "", t0)
	if err := r.Flush(context.Background()); err != nil {
		t.Fatalf("a client ID with no key is not a failure: %v", err)
	}
	if r.Pending() != 0 {
		t.Error("counts of a client ID with no key were kept for a retry")
	}
}

func TestRetainedFailuresAreBounded(t *testing.T) {
	sink := newSink()
	sink.failAdd = 1000
	r, _ := newRecorder(t, sink, Options{MaxEntries: 4})
	for range 4 {
		r.Record(proven(key.NewClientID(key.EnvTest), key.CodeValid), "", t0)
	}
	if err := r.Flush(context.Background()); err == nil {
		t.Fatal("flush did not fail")
	}
	r.Record(proven(key.NewClientID(key.EnvTest), key.CodeValid), "", t0)
	if r.Pending() != 4 || r.Dropped() != 1 {
		t.Errorf("pending %d dropped %d: failed writes must count against the bound", r.Pending(), r.Dropped())
	}
}

func TestRecordNeverBlocks(t *testing.T) {
	sink := newSink()
	sink.block, sink.entered = make(chan struct{}), make(chan struct{}, 1)
	r, _ := newRecorder(t, sink, Options{})
	id := key.NewClientID(key.EnvTest)
	r.Record(proven(id, key.CodeValid), "", t0)
	flushed := make(chan error, 1)
	go func() { flushed <- r.Flush(context.Background()) }()
	<-sink.entered // the flush is stuck in the sink

	done := make(chan struct{})
	go func() {
		for i := range 10000 {
			r.Record(proven(id, key.CodeValid), "", t0.Add(time.Duration(i)))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		t.Fatal("Record waited for a flush stuck in the store")
	}
	close(sink.block)
	if err := <-flushed; err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := sink.day(id, "2026-11-23").Allowed; got != 10001 {
		t.Errorf("allowed = %d, want 10001", got)
	}
}

func TestConcurrentRecordAndFlush(t *testing.T) {
	sink := newSink()
	clk := testenv.NewClock(t0)
	r, _ := newRecorder(t, sink, Options{FlushInterval: time.Millisecond, Poll: time.Millisecond, Now: clk.Now})
	ids := []string{key.NewClientID(key.EnvTest), key.NewClientID(key.EnvTest), key.NewClientID(key.EnvTest)}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				code := key.CodeValid
				if i%5 == 0 {
					code = key.CodeIPNotAllowed
				}
				r.Record(proven(ids[(g+i)%3], code), "203.0.113.7", t0)
				if i%50 == 0 {
					clk.Advance(time.Millisecond)
				}
			}
		})
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 20 {
			_ = r.Flush(context.Background())
		}
	}()
	wg.Wait()
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	var allowed, denied int64
	for _, id := range ids {
		d := sink.day(id, "2026-11-23")
		allowed += d.Allowed
		denied += d.Denied["IP_NOT_ALLOWED"]
	}
	if allowed != 8*400 || denied != 8*100 {
		t.Errorf("allowed %d denied %d, want %d and %d", allowed, denied, 8*400, 8*100)
	}
}

func TestCloseFlushes(t *testing.T) {
	sink := newSink()
	r := New(sink, Options{FlushInterval: time.Hour})
	id := key.NewClientID(key.EnvTest)
	r.Record(proven(id, key.CodeValid), "", t0)
	if err := r.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if sink.day(id, "2026-11-23").Allowed != 1 {
		t.Error("Close did not write what was pending")
	}
	if err := r.Close(context.Background()); err != nil {
		t.Errorf("a second Close: %v", err)
	}
}
