package store

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
)

// throttledTable answers BatchGetItem with every key unprocessed, as a
// throttled partition does, until busy has passed since its first call.
type throttledTable struct {
	API
	busy  time.Duration
	first time.Time
	calls int
}

func (f *throttledTable) BatchGetItem(_ context.Context, in *dynamodb.BatchGetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error) {
	f.calls++
	if f.first.IsZero() {
		f.first = time.Now()
	}
	if time.Since(f.first) < f.busy {
		return &dynamodb.BatchGetItemOutput{UnprocessedKeys: in.RequestItems}, nil
	}
	return &dynamodb.BatchGetItemOutput{Responses: map[string][]map[string]types.AttributeValue{}}, nil
}

// Keys left unprocessed are asked for again after a pause that grows, as
// DynamoDB asks, not at once: a throttled partition is still throttled a
// microsecond later.
func TestBatchGetBacksOffOnUnprocessedKeys(t *testing.T) {
	table := &throttledTable{busy: 30 * time.Millisecond}
	s := New(table, "t")
	k := &key.Key{ID: key.NewClientID(key.EnvTest)}
	if err := s.AttachLastUse(context.Background(), k); err != nil {
		t.Fatalf("last use read during %v of throttling, in %d tries: %v", table.busy, table.calls, err)
	}
}
