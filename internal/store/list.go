package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
)

// filteredPageSize is how many index entries a Query evaluates per page when
// a filter may drop most of them.
const filteredPageSize = 100

// ListKeys returns up to f.Limit of a merchant's keys, newest first, and the
// cursor of the next page, "" when there is none. It reads the gsi1 index
// page after page until it has enough matching keys or the index ends. A
// cursor that was not issued for this merchant's key list is an error
// wrapping key.ErrInvalid.
func (s *Store) ListKeys(ctx context.Context, merchantID string, f key.ListFilter) ([]*key.Key, string, error) {
	if merchantID == "" {
		return nil, "", errors.New("store: list keys: no merchant")
	}
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, "", err
	}
	if f.Environment != "" {
		if _, err := key.ParseEnvironment(string(f.Environment)); err != nil {
			return nil, "", err
		}
	}
	if f.Status != "" {
		if _, err := key.ParseStatus(string(f.Status)); err != nil {
			return nil, "", err
		}
	}
	now := f.Now
	if now.IsZero() {
		now = s.now()
	}

	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("#gpk = :gpk"),
		ExpressionAttributeNames:  map[string]string{"#gpk": attrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":gpk": avS(merchantKeysPK(merchantID))},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if f.Environment != "" || f.Status != "" {
		addKeyFilter(in, f, now)
		in.Limit = aws.Int32(int32(max(limit+1, s.pageSize)))
	}
	if f.Cursor != "" {
		c, err := s.decodeCursor(cursorKeys, merchantID, f.Cursor)
		if err != nil {
			return nil, "", err
		}
		// Rebuilt for this merchant: a cursor never leads into another's partition.
		in.ExclusiveStartKey = map[string]types.AttributeValue{
			attrPK:     avS(keyPK(c.I)),
			attrSK:     avS(keySK),
			attrGSI1PK: avS(merchantKeysPK(merchantID)),
			attrGSI1SK: avS(c.S),
		}
	}

	// Read until limit+1 keys match, so that a next cursor is returned only
	// when there is a next key.
	keys := make([]*key.Key, 0, limit)
	var lastSK string // the index sort key of the last key in keys
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("store: list keys of %s: %w", merchantID, err)
		}
		for _, item := range out.Items {
			k, err := keyFromItem(item)
			if err != nil {
				return nil, "", fmt.Errorf("store: list keys of %s: %w", merchantID, err)
			}
			if k.MerchantID != merchantID {
				return nil, "", fmt.Errorf("store: list keys of %s: key %s belongs to another merchant", merchantID, k.ID)
			}
			if (f.Environment != "" && k.Environment != f.Environment) ||
				(f.Status != "" && k.EffectiveStatus(now) != f.Status) {
				continue
			}
			if len(keys) == limit {
				return keys, s.encodeCursor(cursorKeys, merchantID, cursor{S: lastSK, I: keys[limit-1].ID}), nil
			}
			keys = append(keys, k)
			lastSK = stringAttr(item, attrGSI1SK)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return keys, "", nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// addKeyFilter narrows a key query on the server. The filter lets through
// every key that matches, and perhaps a few around the current second that
// do not (expires_at_unix has whole seconds); the exact check is made on the
// decoded keys.
func addKeyFilter(in *dynamodb.QueryInput, f key.ListFilter, now time.Time) {
	names, values := in.ExpressionAttributeNames, in.ExpressionAttributeValues
	var conds []string
	if f.Environment != "" {
		names["#env"] = kEnvironment
		values[":env"] = avS(string(f.Environment))
		conds = append(conds, "#env = :env")
	}
	if f.Status != "" {
		names["#st"] = kStatus
		values[":st"] = avS(string(f.Status))
		switch f.Status {
		case key.StatusActive, key.StatusDisabled:
			names["#exp"] = kExpiresAtUnix
			values[":now"] = avN(now.Unix())
			conds = append(conds, "#st = :st AND (attribute_not_exists(#exp) OR #exp >= :now)")
		case key.StatusExpired:
			names["#exp"] = kExpiresAtUnix
			values[":now"] = avN(now.Unix())
			values[":active"] = avS(string(key.StatusActive))
			values[":disabled"] = avS(string(key.StatusDisabled))
			conds = append(conds, "(#st = :st OR ((#st = :active OR #st = :disabled) AND #exp <= :now))")
		default:
			conds = append(conds, "#st = :st")
		}
	}
	expr := conds[0]
	for _, c := range conds[1:] {
		expr += " AND " + c
	}
	in.FilterExpression = aws.String(expr)
}

// listLimit applies the default to 0 and refuses what the API refuses.
func listLimit(n int) (int, error) {
	switch {
	case n == 0:
		return key.DefaultListLimit, nil
	case n < 0 || n > key.MaxListLimit:
		return 0, key.Invalid("limit must be 1..%d", key.MaxListLimit)
	}
	return n, nil
}

// ListAudit returns up to limit of a merchant's audit records, newest first,
// and the cursor of the next page, "" when there is none. Cursors follow the
// rules of ListKeys.
func (s *Store) ListAudit(ctx context.Context, merchantID string, limit int, cur string) ([]key.AuditRecord, string, error) {
	if merchantID == "" {
		return nil, "", errors.New("store: list audit: no merchant")
	}
	limit, err := listLimit(limit)
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(auditPK(merchantID))},
		ScanIndexForward:          aws.Bool(false),
		ConsistentRead:            aws.Bool(true),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if cur != "" {
		c, err := s.decodeCursor(cursorAudit, merchantID, cur)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = itemKey(auditPK(merchantID), c.S)
	}
	recs := make([]key.AuditRecord, 0, limit)
	items := make([]map[string]types.AttributeValue, 0, limit) // recs' items
	var lastSK string                                          // the sort key of the last record in recs
	page := func(next string) ([]key.AuditRecord, string, error) {
		if err := s.tallies(ctx, recs, items); err != nil {
			return nil, "", fmt.Errorf("store: list audit of %s: %w", merchantID, err)
		}
		return recs, next, nil
	}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("store: list audit of %s: %w", merchantID, err)
		}
		for _, item := range out.Items {
			r, err := auditFromItem(item)
			if err != nil {
				return nil, "", fmt.Errorf("store: list audit of %s: %w", merchantID, err)
			}
			if r.MerchantID != merchantID {
				return nil, "", fmt.Errorf("store: list audit of %s: record %s belongs to another merchant", merchantID, r.ID)
			}
			if len(recs) == limit {
				return page(s.encodeCursor(cursorAudit, merchantID, cursor{S: lastSK, I: recs[limit-1].ID}))
			}
			recs, items = append(recs, r), append(items, item)
			lastSK = stringAttr(item, attrSK)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page("")
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		in.Limit = aws.Int32(int32(limit + 1 - len(recs)))
	}
}

// stringAttr returns a string attribute of item, or "" when it is not one.
func stringAttr(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

// PutAudit appends one audit record on its own (a refused change, which has
// no transaction to ride in). Audit records are never overwritten: one with
// the same ID and time already there is an error.
func (s *Store) PutAudit(ctx context.Context, r *key.AuditRecord) error {
	if r.MerchantID == "" || r.ID == "" {
		return errors.New("store: put audit: record without merchant or id")
	}
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     auditItem(r),
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	// The ID is random, so a record already there is this one, written by an
	// attempt the SDK retried after its answer was lost.
	var exists *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("store: put audit %s: %w", r.ID, err)
	}
	return nil
}
