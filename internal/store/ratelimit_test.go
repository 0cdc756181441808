package store

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// rateTable keeps rate limiter items as DynamoDB would, with the two
// conditions RateLimit writes under. A read answers what the table held when
// it began, readDelay of the clock later, so that concurrent tries read the
// same item and race to write it.
type rateTable struct {
	API
	mu        sync.Mutex
	items     map[string]map[string]types.AttributeValue
	readDelay time.Duration
	conflicts int
}

func newRateTable() *rateTable {
	return &rateTable{items: map[string]map[string]types.AttributeValue{}}
}

func (r *rateTable) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	r.mu.Lock()
	item := r.items[in.Key[attrPK].(*types.AttributeValueMemberS).Value]
	r.mu.Unlock()
	time.Sleep(r.readDelay) // the answer is what the table held when it was read
	return &dynamodb.GetItemOutput{Item: item}, nil
}

func (r *rateTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	pk := in.Item[attrPK].(*types.AttributeValueMemberS).Value
	old, exists := r.items[pk]
	var ok bool
	switch c := aws.ToString(in.ConditionExpression); c {
	case "attribute_not_exists(#k)":
		ok = !exists
	case "#k = :v":
		ok = exists && reflect.DeepEqual(old[in.ExpressionAttributeNames["#k"]], in.ExpressionAttributeValues[":v"])
	default:
		return nil, errors.New("rateTable: unexpected condition " + c)
	}
	if !ok {
		r.conflicts++
		return nil, &types.ConditionalCheckFailedException{}
	}
	r.items[pk] = in.Item
	return &dynamodb.PutItemOutput{}, nil
}

// The limiter counts tries in a rolling window on the caller's clock. These
// tests run in synctest's bubble, whose clock starts on a whole minute and
// moves only when they sleep.
func TestRateLimitRollingWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(newRateTable(), "t")
		try := func(name string) (bool, time.Duration) {
			t.Helper()
			allowed, retry, err := s.RateLimit(context.Background(), name, 10, time.Minute, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			return allowed, retry
		}
		time.Sleep(time.Second)
		for i := 1; i <= 11; i++ {
			allowed, retry := try("verify#k1")
			if want := i <= 10; allowed != want {
				t.Fatalf("try %d: allowed = %v", i, allowed)
			}
			if !allowed && retry != time.Minute {
				t.Errorf("try %d: retryAfter = %v, want 1m0s", i, retry)
			}
		}
		// Another name has its own count.
		if allowed, _ := try("verify#k2"); !allowed {
			t.Error("another name was refused")
		}
		// A rolling minute: refused until the first tries are a minute old.
		time.Sleep(59 * time.Second)
		if allowed, retry := try("verify#k1"); allowed || retry != time.Second {
			t.Errorf("59 s after: allowed %v, retry %v", allowed, retry)
		}
		time.Sleep(time.Second)
		if allowed, _ := try("verify#k1"); !allowed {
			t.Error("a minute after the first tries: refused")
		}

		// Tries bunched at the end of a fixed window do not buy a second
		// batch at the start of the next one.
		time.Sleep(58 * time.Second) // 59 s into a minute
		for range 10 {
			if allowed, _ := try("verify#k3"); !allowed {
				t.Fatal("a try within the limit was refused")
			}
		}
		for i := range 9 {
			time.Sleep(time.Duration(2+4*min(i, 1)) * time.Second)
			if allowed, retry := try("verify#k3"); allowed || retry < time.Second {
				t.Fatalf("try %d after 10 in a minute: allowed %v, retry %v", i, allowed, retry)
			}
		}
		time.Sleep(time.Minute)
		if allowed, _ := try("verify#k3"); !allowed {
			t.Error("a minute after the batch: refused")
		}
	})
}

// Tries that race for one limiter all read it, one write wins each round
// and the others read again after a pause: exactly the limit is allowed,
// and no try waits more than a few pauses.
func TestRateLimitUnderContention(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		table := newRateTable()
		table.readDelay = time.Millisecond
		s := New(table, "t")
		start := time.Now()
		var mu sync.Mutex
		allowed, refused := 0, 0
		var wg sync.WaitGroup
		for range 30 {
			wg.Go(func() {
				ok, retry, err := s.RateLimit(context.Background(), "burst", 10, time.Minute, time.Now())
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err != nil:
					t.Error(err)
				case ok:
					allowed++
				case retry < time.Second:
					t.Errorf("refused with retryAfter %v", retry)
				default:
					refused++
				}
			})
		}
		wg.Wait()
		if allowed != 10 || refused != 20 {
			t.Errorf("%d of 30 concurrent tries allowed and %d refused, want 10 and 20", allowed, refused)
		}
		if table.conflicts == 0 {
			t.Error("no try lost a race: the test did not make any")
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("the tries took %v", d)
		}
	})
}
