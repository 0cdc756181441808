package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/webhook"
)

// memStore keeps the worker's items in memory, with the store's revision
// rules, so the worker's own logic and costs can be tested without I/O.
type memStore struct {
	mu         sync.Mutex
	endpoints  map[string]*hook.Endpoint
	events     map[string]*outbox.Event
	pending    map[string]bool // events not fanned out
	deliveries map[string]*hook.Delivery
}

func newMemStore() *memStore {
	return &memStore{endpoints: map[string]*hook.Endpoint{}, events: map[string]*outbox.Event{},
		pending: map[string]bool{}, deliveries: map[string]*hook.Delivery{}}
}

func (m *memStore) AllEndpoints(_ context.Context, merchant string) ([]*hook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*hook.Endpoint
	for _, e := range m.endpoints {
		if e.MerchantID == merchant {
			c := *e
			out = append(out, &c)
		}
	}
	return out, nil
}

func (m *memStore) GetEndpoint(_ context.Context, id string) (*hook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.endpoints[id]
	if !ok {
		return nil, key.NotFound("webhook endpoint", id)
	}
	c := *e
	return &c, nil
}

func (m *memStore) SaveEndpoint(_ context.Context, e *hook.Endpoint, _ *store.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if old, ok := m.endpoints[e.ID]; ok && old.Revision != e.Revision {
		return store.ErrStale
	}
	e.Revision++
	c := *e
	m.endpoints[e.ID] = &c
	return nil
}

func (m *memStore) GetEvent(_ context.Context, id string) (*outbox.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev, ok := m.events[id]
	if !ok {
		return nil, key.NotFound("event", id)
	}
	return ev, nil
}

func (m *memStore) GetDelivery(_ context.Context, endpointID, id string) (*hook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.deliveries[endpointID+id]
	if !ok {
		return nil, key.NotFound("delivery", id)
	}
	c := *d
	return &c, nil
}

func (m *memStore) SaveDelivery(_ context.Context, d *hook.Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.deliveries[d.EndpointID+d.ID]
	if ok && old.Revision != d.Revision || !ok && d.Revision != 0 {
		return store.ErrStale
	}
	d.Revision++
	c := *d
	c.Attempts = append([]hook.Attempt(nil), d.Attempts...)
	m.deliveries[d.EndpointID+d.ID] = &c
	return nil
}

func (m *memStore) FannedOut(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.pending, id)
	return nil
}

func (m *memStore) PendingEvents(_ context.Context, _ time.Time, limit int) ([]outbox.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []outbox.Event
	for id := range m.pending {
		if len(out) == limit {
			break
		}
		out = append(out, *m.events[id])
	}
	return out, nil
}

func (m *memStore) DueDeliveries(_ context.Context, now time.Time, limit int) ([]*hook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*hook.Delivery
	for _, d := range m.deliveries {
		if len(out) == limit {
			break
		}
		if d.Status == hook.DeliveryPending && d.NextAttemptAt != nil && !d.NextAttemptAt.After(now) {
			c := *d
			out = append(out, &c)
		}
	}
	return out, nil
}

type memSecrets struct{ secret string }

func (s memSecrets) Get(context.Context, string, string) (string, error) { return s.secret, nil }

// newMemWorker returns a worker over memory with one endpoint at url and n
// outbox events for it.
func newMemWorker(t testing.TB, url string, n int) (*delivery.Worker, *memStore) {
	m := newMemStore()
	now := time.Now().UTC()
	m.endpoints["we_1"] = &hook.Endpoint{ID: "we_1", MerchantID: "m_1", URL: url, EventTypes: []string{"*"},
		Status: "enabled", SecretVersionID: "v1", CreatedAt: now, Revision: 1}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("msg_%d", i)
		m.events[id] = &outbox.Event{ID: id, Type: "key.created", MerchantID: "m_1", CreatedAt: now, Data: []byte(`{"type":"key.created"}`)}
		m.pending[id] = true
	}
	w := delivery.New(m, memSecrets{webhook.NewSecret()}, &webhook.Sender{AllowPrivate: true}, slog.New(slog.DiscardHandler))
	return w, m
}

// A sweep over memory sends every event once; a second sends nothing.
func TestSweepSendsEachEventOnce(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	w, m := newMemWorker(t, srv.URL, 250)
	st, err := w.Sweep(context.Background())
	if err != nil || st.Events != 250 || st.Attempts != 250 || hits.Load() != 250 {
		t.Fatalf("sweep = %+v, %d received, %v", st, hits.Load(), err)
	}
	if st, _ := w.Sweep(context.Background()); st.Events+st.Attempts != 0 || hits.Load() != 250 {
		t.Errorf("second sweep = %+v, %d received", st, hits.Load())
	}
	for _, d := range m.deliveries {
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
		w, _ := newMemWorker(b, srv.URL, n)
		b.StartTimer()
		start := time.Now()
		if st, err := w.Sweep(context.Background()); err != nil || st.Attempts != n {
			b.Fatalf("sweep = %+v, %v", st, err)
		}
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
	}
}

// countingSecrets counts the signing secret reads.
type countingSecrets struct {
	secret string
	reads  atomic.Int64
}

func (s *countingSecrets) Get(context.Context, string, string) (string, error) {
	s.reads.Add(1)
	return s.secret, nil
}

// A signing secret version is read once, kept for an hour, checked when it
// is next needed, and read again after that.
func TestSigningSecretKeptUntilItsTTL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	w, m := newMemWorker(t, srv.URL, 0)
	sec := &countingSecrets{secret: webhook.NewSecret()}
	now := time.Now().UTC()
	w.Secrets, w.Now = sec, func() time.Time { return now }
	steps := []struct {
		advance time.Duration
		reads   int64
	}{
		{0, 1},                // the first delivery reads it
		{59 * time.Minute, 1}, // kept
		{2 * time.Minute, 2},  // past the hour: read again
		{time.Minute, 2},      // and kept again
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		id := fmt.Sprintf("msg_%d", i)
		m.mu.Lock()
		m.events[id] = &outbox.Event{ID: id, Type: "key.created", MerchantID: "m_1", CreatedAt: now, Data: []byte(`{}`)}
		m.pending[id] = true
		m.mu.Unlock()
		if st, err := w.Sweep(context.Background()); err != nil || st.Attempts != 1 {
			t.Fatalf("step %d: sweep = %+v, %v", i, st, err)
		}
		if got := sec.reads.Load(); got != s.reads {
			t.Errorf("step %d (+%v): %d secret reads, want %d", i, s.advance, got, s.reads)
		}
	}
}
