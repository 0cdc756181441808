//go:build integration

package store

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/testenv"
)

// slowTransactions makes every transaction take d on the store's clock.
type slowTransactions struct {
	API
	clock *testenv.Clock
	d     time.Duration
}

func (s slowTransactions) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	out, err := s.API.TransactWriteItems(ctx, in, o...)
	s.clock.Advance(s.d)
	return out, err
}

// Every key write is in the change feed, at the key's new revision; a write
// that took longer than FeedWriteBound to commit is announced again, stamped
// after its commit, so a reader that looked in between still sees it.
func TestFeedAnnouncesEveryWrite(t *testing.T) {
	ctx := testenv.Context(t)
	for _, tt := range []struct {
		name  string
		delay time.Duration
	}{
		{"fast write", 0},
		{"slow write", FeedWriteBound + time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, table := testTable(t)
			clock := testenv.NewClock(time.Now().UTC())
			s := New(slowTransactions{API: db, clock: clock, d: tt.delay}, table)
			s.now = clock.Now
			start := clock.Now()
			k := newKey(t, "m_1", "test", start)
			if err := s.CreateKey(ctx, k, outbox.Extras{KeyLimit: 10}); err != nil {
				t.Fatal(err)
			}
			// A reader that looked just before the commit, and so looks back
			// from there next time.
			lookedAt := clock.Now().Add(-time.Millisecond)
			entries, complete, err := s.Changes(ctx, lookedAt.Add(-FeedWriteBound))
			if err != nil || !complete {
				t.Fatalf("changes: %v %v", complete, err)
			}
			found := false
			for _, e := range entries {
				found = found || e.ClientID == k.ID && e.Revision == 1
			}
			if !found {
				t.Fatalf("a reader looking from %v did not see the create: %+v", lookedAt, entries)
			}
		})
	}
}
