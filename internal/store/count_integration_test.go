//go:build integration

package store

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/testenv"
)

// Parallel creates never take a merchant past its key limit; a revoke gives
// a place back, and other merchants are counted apart.
func TestKeyLimitIsAtomic(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Now()
	const limit = 4
	var mu sync.Mutex
	var wg sync.WaitGroup
	var made []*key.Key
	outcomes := map[string]int{}
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := newKey(t, "m_1", key.EnvTest, now)
			err := s.CreateKey(ctx, k, outbox.Extras{KeyLimit: limit})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made = append(made, k)
				outcomes["created"]++
			case errors.Is(err, ErrLimitReached):
				outcomes["limit"]++
			case errors.Is(err, ErrStale):
				outcomes["stale"]++
			default:
				t.Errorf("create: %v", err)
			}
		}()
	}
	wg.Wait()
	if len(made) > limit || outcomes["limit"] == 0 {
		t.Fatalf("20 parallel creates with a limit of %d: %v", limit, outcomes)
	}
	for len(made) < limit {
		k := newKey(t, "m_1", key.EnvTest, now)
		if err := s.CreateKey(ctx, k, outbox.Extras{KeyLimit: limit}); err != nil {
			t.Fatalf("create below the limit: %v", err)
		}
		made = append(made, k)
	}
	if err := s.CreateKey(ctx, newKey(t, "m_1", key.EnvTest, now), outbox.Extras{KeyLimit: limit}); !errors.Is(err, ErrLimitReached) {
		t.Fatalf("create at the limit: %v, want ErrLimitReached", err)
	}
	if err := s.CreateKey(ctx, newKey(t, "m_2", key.EnvTest, now), outbox.Extras{KeyLimit: limit}); err != nil {
		t.Fatalf("another merchant's create: %v", err)
	}
	revoked := made[0].Revoke(now)
	if err := s.UpdateKey(ctx, revoked, outbox.Extras{Revokes: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateKey(ctx, newKey(t, "m_1", key.EnvTest, now), outbox.Extras{KeyLimit: limit}); err != nil {
		t.Fatalf("create after a revoke: %v", err)
	}
	if err := s.CreateKey(ctx, newKey(t, "m_1", key.EnvTest, now), outbox.Extras{KeyLimit: limit}); !errors.Is(err, ErrLimitReached) {
		t.Fatalf("create at the limit again: %v, want ErrLimitReached", err)
	}
}

// Parallel refusals of one actor on one resource make one record whose
// count is the number of refusals. The count is an ADD, so a write the SDK
// retried after a lost response may count one refusal twice (seen on an
// overloaded DynamoDB Local): never fewer, at most the SDK's retries more.
func TestRefusalsCoalesceUnderConcurrency(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Now().UTC()
	const n = 15
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &key.AuditRecord{ID: key.NewID("aud_"), MerchantID: "m_1", Actor: "user_1", Role: "admin",
				Action: "key.update", ResourceType: "key", ResourceID: "ck_test_x", Outcome: "conflict", CreatedAt: now}
			if err := s.RecordRefusal(ctx, r); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	recs, _, err := s.ListAudit(ctx, "m_1", 100, "")
	if err != nil {
		t.Fatal(err)
	}
	const retries = 3 * n // the SDK's default: three attempts per write
	if len(recs) != 1 || recs[0].Count < n || recs[0].Count > retries || recs[0].ResourceID != "ck_test_x" || recs[0].Outcome != "conflict" || recs[0].Actor != "user_1" {
		t.Fatalf("records = %+v, want one with count %d (up to %d with retries)", recs, n, retries)
	}
}
