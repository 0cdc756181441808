package store

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/key"
)

// errNoIdempotency is what GetIdempotency returns when there is no live record.
var errNoIdempotency error = &key.PublicError{Kind: key.ErrNotFound, Msg: "idempotency record not found"}

// GetIdempotency reads the idempotency record of an Idempotency-Key sent by
// a merchant's user (subject) with a strongly consistent read. A record that does not exist, or that is
// 24 hours old or more, is an error wrapping key.ErrNotFound.
func (s *Store) GetIdempotency(ctx context.Context, merchantID, subject, idemKey string) (*key.IdempotencyRecord, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(idemPK(merchantID, subject, idemKey), idemSK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get idempotency record: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, errNoIdempotency
	}
	r, ttl, err := idempotencyFromItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("store: get idempotency record: %w", err)
	}
	// Expired records linger until TTL removes them; the same rule lets a
	// new record replace them (see writeWithExtras).
	if ttl <= s.now().Unix() {
		return nil, errNoIdempotency
	}
	if r.MerchantID != merchantID || r.Subject != subject || r.Key != idemKey {
		return nil, fmt.Errorf("store: get idempotency record: record does not match its key")
	}
	return r, nil
}
