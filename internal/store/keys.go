package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// maxTransactItems is DynamoDB's limit on the items of one transaction.
const maxTransactItems = 100

// GetKey reads a key with one strongly consistent GetItem. A key that does
// not exist is an error wrapping key.ErrNotFound.
func (s *Store) GetKey(ctx context.Context, id string) (*key.Key, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            itemKey(keyPK(id), keySK),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get key %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return nil, key.NotFound("key", id)
	}
	k, err := keyFromItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("store: get key %s: %w", id, err)
	}
	return k, nil
}

// CreateKey writes a new key together with x in one transaction, counting it
// against its merchant's limit of keys that are not revoked (x.KeyLimit). A
// key with the same ID is a conflict (key.ErrConflict); an idempotency record
// that is already there is ErrIdempotencyTaken; a merchant at its limit is
// ErrLimitReached; a concurrent write of the merchant's count is ErrStale (the
// create may be tried again). In each case nothing is written. On success
// k.Revision is 1.
func (s *Store) CreateKey(ctx context.Context, k *key.Key, x outbox.Extras) error {
	if err := checkKey(k); err != nil {
		return fmt.Errorf("store: create key: %w", err)
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:                aws.String(s.table),
		Item:                     keyItem(k, 1),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	}}, s.countUp(k.MerchantID, countKeys, x.KeyLimit)}
	if err := s.writeWithExtras(ctx, "create", k, 1, items, x); err != nil {
		return err
	}
	k.Revision = 1
	return nil
}

// UpdateKey writes k's changes together with x in one transaction, provided
// the stored key is still at k.Revision, the revision the caller read; on
// success k.Revision is incremented. When a concurrent update won (or the key
// is gone), it returns ErrStale and writes nothing.
//
// It changes only the attributes an update may change, so the last-use
// attributes, which are written without a revision bump, keep their values.
// Optional attributes that k leaves empty (expiry, rotation period, previous
// secret) are removed.
func (s *Store) UpdateKey(ctx context.Context, k *key.Key, x outbox.Extras) error {
	if err := checkKey(k); err != nil {
		return fmt.Errorf("store: update key: %w", err)
	}
	attrs := keyAttrs(k)
	u := expression.Set(attrOf(kRevision), val(avN(k.Revision+1)))
	for _, n := range slices.Sorted(maps.Keys(attrs)) {
		if !keyFixedAttrs[n] {
			u = u.Set(attrOf(n), val(attrs[n]))
		}
	}
	for _, n := range keyOptionalAttrs {
		if _, ok := attrs[n]; !ok {
			u = u.Remove(attrOf(n))
		}
	}
	cond := attrOf(kRevision).Equal(val(avN(k.Revision)))
	b, err := buildUpdate(u, &cond)
	if err != nil {
		return fmt.Errorf("store: update key %s: %w", k.ID, err)
	}
	items := []types.TransactWriteItem{{Update: s.txUpdate(itemKey(keyPK(k.ID), keySK), b)}}
	if x.Revokes {
		items = append(items, s.countDown(k.MerchantID, countKeys))
	}
	if err := s.writeWithExtras(ctx, "update", k, k.Revision+1, items, x); err != nil {
		return err
	}
	k.Revision++
	return nil
}

func checkKey(k *key.Key) error {
	switch {
	case k == nil:
		return errors.New("no key")
	case k.ID == "":
		return errors.New("key has no id")
	case k.MerchantID == "":
		return fmt.Errorf("key %s has no merchant", k.ID)
	}
	return nil
}

// Roles of a transaction's items, to tell which one's condition failed.
const (
	roleKey = iota
	roleEvent
	roleAudit
	roleIdempotency
	roleCount // the merchant's count of keys
	roleFeed
)

// writeWithExtras appends x's items and the change feed's entry for the
// key's new revision to the key write and runs them as one transaction,
// mapping a cancellation to the error of the item that caused it.
func (s *Store) writeWithExtras(ctx context.Context, op string, k *key.Key, rev int64, items []types.TransactWriteItem, x outbox.Extras) error {
	roles := []int{roleKey}
	for range items[1:] {
		roles = append(roles, roleCount)
	}
	if n := len(items) + len(x.Events) + 3; n > maxTransactItems {
		return fmt.Errorf("store: %s key %s: too many events (%d)", op, k.ID, len(x.Events))
	}
	for i := range x.Events {
		e := &x.Events[i]
		switch {
		case e.ID == "" || e.Type == "":
			return fmt.Errorf("store: %s key %s: event without id or type", op, k.ID)
		case e.MerchantID != k.MerchantID:
			return fmt.Errorf("store: %s key %s: event %s belongs to another merchant", op, k.ID, e.ID)
		case !json.Valid(e.Data):
			return fmt.Errorf("store: %s key %s: event %s: data is not valid JSON", op, k.ID, e.ID)
		}
		items = append(items, types.TransactWriteItem{Put: s.putRevision(eventItem(e), 0)})
		roles = append(roles, roleEvent)
	}
	if a := x.Audit; a != nil {
		switch {
		case a.ID == "":
			return fmt.Errorf("store: %s key %s: audit record without id", op, k.ID)
		case a.MerchantID != k.MerchantID:
			return fmt.Errorf("store: %s key %s: audit record belongs to another merchant", op, k.ID)
		}
		items = append(items, s.auditPut(a))
		roles = append(roles, roleAudit)
	}
	if r := x.Idempotency; r != nil {
		switch {
		case r.Key == "":
			return fmt.Errorf("store: %s key %s: idempotency record without key", op, k.ID)
		case r.MerchantID != k.MerchantID:
			return fmt.Errorf("store: %s key %s: idempotency record belongs to another merchant", op, k.ID)
		}
		// A record past its lifetime may linger until TTL removes it; it no
		// longer counts, so it may be replaced.
		items = append(items, types.TransactWriteItem{Put: &types.Put{
			TableName:                 aws.String(s.table),
			Item:                      idempotencyItem(r),
			ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ttl <= :now"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#ttl": attrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{":now": avN(s.now().Unix())},
		}})
		roles = append(roles, roleIdempotency)
	}
	stamped := s.now()
	items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(s.table), Item: feedItem(k, rev, stamped)}})
	roles = append(roles, roleFeed)

	_, err := s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	if err == nil {
		s.reannounce(ctx, k, rev, stamped)
		return nil
	}
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		if mapped := cancellation(op, k.ID, roles, tce.CancellationReasons); mapped != nil {
			return mapped
		}
	}
	return fmt.Errorf("store: %s key %s: %w", op, k.ID, err)
}

// Cancellation reason codes (DynamoDB's TransactWriteItems documentation).
const (
	codeConditionFailed     = "ConditionalCheckFailed"
	codeTransactionConflict = "TransactionConflict"
)

// cancellation maps a cancelled transaction to the error of the item that
// caused it, or returns nil when the reasons say nothing the caller can act on.
func cancellation(op, id string, roles []int, reasons []types.CancellationReason) error {
	if len(reasons) != len(roles) {
		return nil
	}
	code := func(i int) string { return aws.ToString(reasons[i].Code) }
	// The idempotency record first: a retried request must learn that the
	// record exists, whatever else failed with it.
	for i, role := range roles {
		if role == roleIdempotency {
			if c := code(i); c == codeConditionFailed || c == codeTransactionConflict {
				return fmt.Errorf("store: %s key %s: %w", op, id, ErrIdempotencyTaken)
			}
		}
	}
	for i, role := range roles {
		if role == roleCount {
			switch code(i) {
			case codeConditionFailed:
				return fmt.Errorf("store: %s key %s: %w", op, id, ErrLimitReached)
			case codeTransactionConflict:
				return fmt.Errorf("store: %s key %s: %w", op, id, ErrStale)
			}
		}
	}
	switch code(0) {
	case codeConditionFailed:
		if op == "create" {
			return fmt.Errorf("store: create key %s: %w", id, key.Conflict("key %s already exists", id))
		}
		return fmt.Errorf("store: %s key %s: %w", op, id, ErrStale)
	case codeTransactionConflict:
		return fmt.Errorf("store: %s key %s: %w", op, id, ErrStale)
	}
	return nil
}
