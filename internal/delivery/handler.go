package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/key"
)

// Handle is the webhook function. It takes a batch of the table's stream
// (outbox events just written: fan out and attempt at once) or a scheduled
// event (sweep: whatever is due, including retries and anything a stream
// batch left behind).
func (w *Worker) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	var probe struct {
		Records []json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(raw, &probe); err != nil {
		return nil, fmt.Errorf("event is not JSON: %w", err)
	}
	if probe.Records != nil {
		var ev events.DynamoDBEvent
		if err := json.Unmarshal(raw, &ev); err != nil {
			return nil, fmt.Errorf("stream event: %w", err)
		}
		return w.HandleStream(ctx, ev), nil
	}
	st, err := w.Sweep(ctx)
	w.Log.InfoContext(ctx, "sweep", "events", st.Events, "attempts", st.Attempts, "errors", st.Errors)
	return st, err
}

// HandleStream fans out each outbox INSERT in the batch and attempts its
// deliveries. A record whose fan-out failed is reported back, so Lambda
// retries from it and not the whole batch; a failed attempt is not a
// failure here, since the delivery is recorded and its retry is scheduled.
func (w *Worker) HandleStream(ctx context.Context, batch events.DynamoDBEvent) events.DynamoDBEventResponse {
	var resp events.DynamoDBEventResponse
	for _, rec := range batch.Records {
		if err := w.streamRecord(ctx, rec); err != nil {
			w.Log.ErrorContext(ctx, "stream record failed", "sequence_number", rec.Change.SequenceNumber, "error", err)
			resp.BatchItemFailures = append(resp.BatchItemFailures,
				events.DynamoDBBatchItemFailure{ItemIdentifier: rec.Change.SequenceNumber})
		}
	}
	return resp
}

func (w *Worker) streamRecord(ctx context.Context, rec events.DynamoDBEventRecord) error {
	if rec.EventName != string(events.DynamoDBOperationTypeInsert) {
		return nil
	}
	pk, ok := rec.Change.Keys["pk"]
	if !ok || pk.DataType() != events.DataTypeString {
		return nil
	}
	id, ok := strings.CutPrefix(pk.String(), "EVENT#")
	if !ok {
		return nil
	}
	ev, err := w.Store.GetEvent(ctx, id)
	if errors.Is(err, key.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	pending, err := w.FanOut(ctx, ev)
	if err != nil {
		return err
	}
	w.AttemptAll(ctx, pending)
	return nil
}
