package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/testenv/mem"
	"github.com/paykeys/paykeys/internal/webhook"
)

// newMemWorker returns a worker over memory with one endpoint at url and n
// outbox events for it.
func newMemWorker(t testing.TB, url string, n int) (*delivery.Worker, *mem.Store, *mem.Secrets) {
	m, sec := mem.NewStore(), mem.NewSecrets()
	now := time.Now().UTC()
	m.Endpoints["we_1"] = hook.Endpoint{ID: "we_1", MerchantID: "m_1", URL: url, EventTypes: []string{"*"},
		Status: "enabled", SecretVersionID: "v1", CreatedAt: now, Revision: 1}
	sec.Put(hook.SecretName("we_1"), "v1", webhook.NewSecret())
	for i := 0; i < n; i++ {
		m.AddEvent(outbox.Event{ID: fmt.Sprintf("msg_%d", i), Type: "key.created", MerchantID: "m_1", CreatedAt: now,
			Data: []byte(`{"type":"key.created"}`)})
	}
	w := delivery.New(m, sec, &webhook.Sender{AllowPrivate: true}, slog.New(slog.DiscardHandler))
	return w, m, sec
}

// A sweep over memory sends every event once; a second sends nothing.
func TestSweepSendsEachEventOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	w, m, _ := newMemWorker(t, srv.URL, 250)
	st, err := w.Sweep(context.Background())
	if err != nil || st.Events != 250 || st.Attempts != 250 || hits.Load() != 250 {
		t.Fatalf("sweep = %+v, %d received, %v", st, hits.Load(), err)
	}
	if st, _ := w.Sweep(context.Background()); st.Events+st.Attempts != 0 || hits.Load() != 250 {
		t.Errorf("second sweep = %+v, %d received", st, hits.Load())
	}
	if len(m.Deliveries) != 250 {
		t.Fatalf("%d deliveries, want 250", len(m.Deliveries))
	}
	for _, d := range m.Deliveries {
		if d.Status != hook.DeliverySucceeded || len(d.Attempts) != 1 {
			t.Fatalf("delivery %s: %s, %d attempts", d.ID, d.Status, len(d.Attempts))
		}
	}
}

// The worker's own ceiling: signing, HTTP to a local receiver and the
// bookkeeping, with the store in memory.
//
//	go test -run '^$' -bench SweepMemory ./internal/delivery
func BenchmarkSweepMemory(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	const n = 2000
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		w, _, _ := newMemWorker(b, srv.URL, n)
		b.StartTimer()
		start := time.Now()
		if st, err := w.Sweep(context.Background()); err != nil || st.Attempts != n {
			b.Fatalf("sweep = %+v, %v", st, err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
	}
}

// A signing secret version is read once, kept for an hour, checked when it
// is next needed, and read again after that.
func TestSigningSecretKeptUntilItsTTL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	w, m, sec := newMemWorker(t, srv.URL, 0)
	now := time.Now().UTC()
	w.Now = func() time.Time { return now }
	steps := []struct {
		advance time.Duration
		reads   int
	}{
		{0, 1},                // the first delivery reads it
		{59 * time.Minute, 1}, // kept
		{2 * time.Minute, 2},  // past the hour: read again
		{time.Minute, 2},      // and kept again
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		m.AddEvent(outbox.Event{ID: fmt.Sprintf("msg_%d", i), Type: "key.created", MerchantID: "m_1", CreatedAt: now, Data: []byte(`{}`)})
		if st, err := w.Sweep(context.Background()); err != nil || st.Attempts != 1 {
			t.Fatalf("step %d: sweep = %+v, %v", i, st, err)
		}
		if got := sec.Count("Get"); got != s.reads {
			t.Errorf("step %d (+%v): %d secret reads, want %d", i, s.advance, got, s.reads)
		}
	}
}
