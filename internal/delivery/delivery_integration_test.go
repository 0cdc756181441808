//go:build integration

package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

type fixture struct {
	st     *store.Store
	svc    *webhooksvc.Service
	worker *delivery.Worker
	hits   *atomic.Int64
	actor  key.Actor
	ep     *hook.Endpoint
}

func newFixture(tb testing.TB) *fixture {
	ctx := context.Background()
	ddb := testenv.Dynamo(tb)
	table := testenv.UniqueName(tb, "d")
	if err := store.CreateTable(ctx, ddb, table); err != nil {
		tb.Fatal(err)
	}
	st := store.New(ddb, table)
	sec := secret.New(testenv.Secrets(tb), testenv.UniqueName(tb, "s")+"/")
	log := slog.New(slog.DiscardHandler)
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	sender := &webhook.Sender{AllowPrivate: true}
	f := &fixture{st: st, hits: &atomic.Int64{}, actor: key.Actor{Subject: "u", MerchantID: "m_1", Role: "admin"}}
	f.worker = delivery.New(st, sec, sender, log)
	if c := os.Getenv("SWEEP_CONCURRENCY"); c != "" {
		fmt.Sscan(c, &f.worker.Concurrency)
	}
	f.svc = webhooksvc.New(st, sec, webhooksvc.URLs{Sender: sender}, log)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		w.WriteHeader(204)
	}))
	tb.Cleanup(rcv.Close)
	ep, _, err := f.svc.Create(ctx, f.actor, webhooksvc.CreateParams{URL: rcv.URL})
	if err != nil {
		tb.Fatal(err)
	}
	f.ep = ep
	return f
}

// pending writes n outbox events for the endpoint, each with its delivery.
func (f *fixture) pending(tb testing.TB, n int) {
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		ev := outbox.Event{ID: key.NewID("msg_"), Type: "webhook.test", MerchantID: "m_1", ResourceID: f.ep.ID,
			EndpointID: f.ep.ID, CreatedAt: now, Data: []byte(`{"type":"webhook.test"}`)}
		d := &hook.Delivery{ID: ev.ID, EndpointID: f.ep.ID, MerchantID: "m_1", EventType: ev.Type,
			Status: hook.DeliveryPending, NextAttemptAt: &now, CreatedAt: now}
		if err := f.st.SaveTestEvent(context.Background(), ev, d, nil); err != nil {
			tb.Fatal(err)
		}
	}
}

// The golden stream record of events/, pointed at a real outbox event: the
// stream handler fans it out and delivers at once, reporting no failure.
func TestHandleStream(t *testing.T) {
	f := newFixture(t)
	raw, err := os.ReadFile("../../events/webhook/stream.json")
	if err != nil {
		t.Fatal(err)
	}
	var batch events.DynamoDBEvent
	if err := json.Unmarshal(raw, &batch); err != nil {
		t.Fatal(err)
	}
	f.pending(t, 1)
	evs, err := f.st.PendingEvents(context.Background(), time.Now(), 10)
	if err != nil || len(evs) != 1 {
		t.Fatalf("pending events: %d %v", len(evs), err)
	}
	rec := batch.Records[0]
	rec.Change.Keys = map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute("EVENT#" + evs[0].ID)}
	batch.Records = []events.DynamoDBEventRecord{rec, {EventName: "MODIFY"}}
	payload, _ := json.Marshal(batch)
	out, err := f.worker.Handle(context.Background(), payload)
	if err != nil {
		t.Fatal(err)
	}
	if resp := out.(events.DynamoDBEventResponse); len(resp.BatchItemFailures) != 0 {
		t.Errorf("failures: %+v", resp.BatchItemFailures)
	}
	if f.hits.Load() != 1 {
		t.Errorf("receiver hits = %d, want 1", f.hits.Load())
	}
	if evs, _ := f.st.PendingEvents(context.Background(), time.Now(), 10); len(evs) != 0 {
		t.Errorf("the event is still pending fan-out")
	}
	// The scheduled event sweeps: nothing is left.
	out, err = f.worker.Handle(context.Background(), []byte(`{"source":"aws.events","detail-type":"Scheduled Event"}`))
	if st := out.(delivery.Stats); err != nil || st.Attempts != 0 {
		t.Errorf("sweep after the stream: %+v %v", st, err)
	}
}

// One sweep (one webhook invocation) sends a backlog to a local receiver:
// how many deliveries a second it sustains, fan-out and recording included.
//
//	go test -tags integration -run '^$' -bench Sweep -benchtime 1x ./internal/delivery
func BenchmarkSweep(b *testing.B) {
	n := 500
	if testing.Short() {
		n = 100
	}
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFixture(b)
		f.pending(b, n)
		b.StartTimer()
		start := time.Now()
		st, err := f.worker.Sweep(context.Background())
		elapsed := time.Since(start)
		if err != nil || st.Attempts != n || f.hits.Load() != int64(n) {
			b.Fatalf("sweep: %+v, %d received, %v", st, f.hits.Load(), err)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
	}
}
