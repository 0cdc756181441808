package store

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// nonceTable keeps nonce items as DynamoDB would, and can play an SDK retry
// of an attempt that landed: it writes the item, then answers as the retry
// that found it would.
type nonceTable struct {
	API
	items       map[string]map[string]types.AttributeValue
	landedRetry bool
}

func (n *nonceTable) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	pk := in.Item[attrPK].(*types.AttributeValueMemberS).Value
	if old, ok := n.items[pk]; ok {
		return nil, &types.ConditionalCheckFailedException{Item: old}
	}
	n.items[pk] = in.Item
	if n.landedRetry {
		return nil, &types.ConditionalCheckFailedException{Item: in.Item}
	}
	return &dynamodb.PutItemOutput{}, nil
}

func TestUseNonceTellsItsOwnRetryFromAReplay(t *testing.T) {
	now := time.Now()
	cases := []struct {
		name        string
		landedRetry bool
		want        []bool // first use, then a replay
	}{
		{"first use, then a replay", false, []bool{true, false}},
		{"first use seen again by the SDK's retry, then a replay", true, []bool{true, false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			table := &nonceTable{items: map[string]map[string]types.AttributeValue{}, landedRetry: c.landedRetry}
			s := New(table, "t")
			for i, want := range c.want {
				fresh, err := s.UseNonce(context.Background(), "ck_test_x", "n1", now, now.Add(time.Minute))
				if err != nil || fresh != want {
					t.Fatalf("use %d: fresh = %v, %v; want %v", i+1, fresh, err, want)
				}
				table.landedRetry = false
			}
		})
	}
}
