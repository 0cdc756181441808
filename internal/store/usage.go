package store

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/retry"
)

// Usage day item attributes: allowed is the count of allowed decisions and
// denied_<CODE> the count of denials for each reason code, all added to with
// ADD so that concurrent writers sum up.
const (
	uAllowed      = "allowed"
	uDeniedPrefix = "denied_"
	usageSKPrefix = "DAY#"
	// lastUsedSK is the sort key of a key's last-use item, in its usage
	// partition: the last use is not written to the key item, so that
	// what counts a key's use cannot change the key.
	lastUsedSK = "LAST_USED"
	// DateLayout is how a usage day is written: a UTC date.
	DateLayout = "2006-01-02"
	// usageTTL is how long a usage day is kept after it began.
	usageTTL = 400 * 24 * time.Hour
	// maxCodeLen bounds a reason code, which becomes part of an attribute name.
	maxCodeLen = 40
)

func usageSK(date string) string { return usageSKPrefix + date }

// usagePK is the partition of a key's usage days and last use, apart from
// the key item (KEY#): the functions that count use may write here and
// not there (template.yaml, dynamodb:LeadingKeys).
func usagePK(clientID string) string { return UsagePartitionPrefix + clientID }

// ErrUsageNotWritten means DynamoDB refused a usage write and changed
// nothing (a concurrent transaction on the same item won, say): it may be
// sent again, with a new request token.
var ErrUsageNotWritten = errors.New("usage not written")

// parseDate accepts only a date written in DateLayout.
func parseDate(s string) (time.Time, bool) {
	t, err := time.Parse(DateLayout, s)
	return t, err == nil && t.Format(DateLayout) == s
}

// validCode reports whether c can be part of an attribute name: the reason
// codes are upper-case words joined by underscores.
func validCode(c string) bool {
	if c == "" || len(c) > maxCodeLen {
		return false
	}
	for i := 0; i < len(c); i++ {
		if !('A' <= c[i] && c[i] <= 'Z' || c[i] == '_') {
			return false
		}
	}
	return true
}

// AddUsage adds day's counts to the key's counters for day.Date, with one
// TransactWriteItems of two items: a ConditionCheck that the key exists and
// an Update of the usage day item that ADDs the counts and sets its TTL. For
// a key that does not exist nothing is written and the error wraps
// key.ErrNotFound, so a client ID nobody owns leaves no item behind.
//
// token, when not empty, is the transaction's ClientRequestToken (at most 36
// characters): DynamoDB applies a repeat of the same request with the same
// token at most once within ten minutes, so a caller that did not learn
// whether a write succeeded (a timeout) can send it again without counting
// twice. Counts of zero are not written; a day with none is a no-op.
func (s *Store) AddUsage(ctx context.Context, clientID string, day key.UsageDay, token string) error {
	if !key.ValidClientID(clientID) {
		return fmt.Errorf("store: add usage: %w", key.NotFound("key", clientID))
	}
	start, ok := parseDate(day.Date)
	if !ok {
		return fmt.Errorf("store: add usage of %s: date %q is not YYYY-MM-DD", clientID, day.Date)
	}
	if len(token) > 36 {
		return fmt.Errorf("store: add usage of %s: request token longer than 36 characters", clientID)
	}
	u := expression.Set(attrOf(attrTTL), val(avN(start.Add(usageTTL).Unix())))
	adds := 0
	add := func(attr string, n int64) {
		u = u.Add(attrOf(attr), val(avN(n)))
		adds++
	}
	if day.Allowed < 0 {
		return fmt.Errorf("store: add usage of %s: negative count", clientID)
	}
	if day.Allowed > 0 {
		add(uAllowed, day.Allowed)
	}
	for _, code := range slices.Sorted(maps.Keys(day.Denied)) {
		n := day.Denied[code]
		switch {
		case !validCode(code):
			return fmt.Errorf("store: add usage of %s: invalid reason code %q", clientID, code)
		case n < 0:
			return fmt.Errorf("store: add usage of %s: negative count", clientID)
		case n > 0:
			add(uDeniedPrefix+code, n)
		}
	}
	if adds == 0 {
		return nil
	}
	b, err := buildUpdate(u, nil)
	if err != nil {
		return fmt.Errorf("store: add usage of %s: %w", clientID, err)
	}
	err = s.usageWrite(ctx, clientID, usageSK(day.Date), b, token)
	var tce *types.TransactionCanceledException
	switch {
	case errors.As(err, &tce) && len(tce.CancellationReasons) == 2 &&
		aws.ToString(tce.CancellationReasons[0].Code) == codeConditionFailed:
		return fmt.Errorf("store: add usage: %w", key.NotFound("key", clientID))
	case tce != nil:
		return fmt.Errorf("store: add usage of %s on %s: %w: %w", clientID, day.Date, ErrUsageNotWritten, err)
	case err != nil:
		return fmt.Errorf("store: add usage of %s on %s: %w", clientID, day.Date, err)
	}
	return nil
}

// usageWrite applies b to the key's usage item sk (in its usage partition)
// provided the key exists, with one TransactWriteItems of two items: a
// ConditionCheck of the key item and the Update. token, when set, is the
// transaction's ClientRequestToken. The error is DynamoDB's, for the caller
// to read the cancellation reasons of.
func (s *Store) usageWrite(ctx context.Context, clientID, sk string, b built, token string) error {
	check, err := expression.NewBuilder().WithCondition(attrOf(attrPK).AttributeExists()).Build()
	if err != nil {
		return fmt.Errorf("build condition expression: %w", err)
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{ConditionCheck: &types.ConditionCheck{
			TableName:                aws.String(s.table),
			Key:                      itemKey(keyPK(clientID), keySK),
			ConditionExpression:      check.Condition(),
			ExpressionAttributeNames: check.Names(),
		}},
		{Update: s.txUpdate(itemKey(usagePK(clientID), sk), b)},
	}}
	if token != "" {
		in.ClientRequestToken = aws.String(token)
	}
	_, err = s.api.TransactWriteItems(ctx, in)
	return err
}

// SetLastUsed records that the key was last used at at, from ip ("" when
// unknown, which removes an older address so the two always belong
// together), in the key's last-use item (usagePK, lastUsedSK), never in the
// key item: no revision bump, so it never makes a concurrent change of the
// key stale. One TransactWriteItems of two items: a ConditionCheck that the
// key exists and the Update, which writes only when at is later than the last
// use recorded, so last_used_at never moves backwards. It reports whether it
// wrote.
func (s *Store) SetLastUsed(ctx context.Context, clientID string, at time.Time, ip string) (bool, error) {
	if !key.ValidClientID(clientID) {
		return false, nil
	}
	u := expression.Set(attrOf(kLastUsedAt), val(avTime(at)))
	if ip != "" {
		u = u.Set(attrOf(kLastUsedIP), val(avS(ip)))
	} else {
		u = u.Remove(attrOf(kLastUsedIP))
	}
	// Times are written at a fixed width in UTC, so they compare as strings.
	later := expression.Or(attrOf(kLastUsedAt).AttributeNotExists(), attrOf(kLastUsedAt).LessThan(val(avTime(at))))
	b, err := buildUpdate(u, &later)
	if err != nil {
		return false, fmt.Errorf("store: set last use of %s: %w", clientID, err)
	}
	err = s.usageWrite(ctx, clientID, lastUsedSK, b, "")
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) && len(tce.CancellationReasons) == 2 {
		for _, r := range tce.CancellationReasons {
			if aws.ToString(r.Code) == codeConditionFailed {
				return false, nil
			}
		}
	}
	if err != nil {
		return false, fmt.Errorf("store: set last use of %s: %w", clientID, err)
	}
	return true, nil
}

// maxBatchGet is DynamoDB's limit on the keys of one BatchGetItem.
const maxBatchGet = 100

// AttachLastUse fills in the last use of keys (LastUsedAt, LastUsedIP) from
// their last-use items, with strongly consistent BatchGetItem calls; a key
// never used keeps none.
func (s *Store) AttachLastUse(ctx context.Context, keys ...*key.Key) error {
	byID := make(map[string]*key.Key, len(keys))
	for _, k := range keys {
		byID[k.ID] = k
	}
	ids := slices.Sorted(maps.Keys(byID))
	for len(ids) > 0 {
		n := min(len(ids), maxBatchGet)
		lookups := make([]map[string]types.AttributeValue, n)
		for i, id := range ids[:n] {
			lookups[i] = itemKey(usagePK(id), lastUsedSK)
		}
		ids = ids[n:]
		items, err := s.batchGet(ctx, lookups)
		if err != nil {
			return fmt.Errorf("store: read last use: %w", err)
		}
		for _, item := range items {
			id, _ := strings.CutPrefix(stringAttr(item, attrPK), UsagePartitionPrefix)
			k := byID[id]
			if k == nil {
				continue
			}
			d := &decoder{item: item}
			k.LastUsedAt, k.LastUsedIP = d.timePtr(kLastUsedAt), d.s(kLastUsedIP, false)
			if d.err != nil {
				return fmt.Errorf("store: read last use of %s: %w", id, d.err)
			}
		}
	}
	return nil
}

// batchGetTries bounds the rounds of one batchGet that DynamoDB answers
// with unprocessed keys.
const batchGetTries = 5

// batchGet reads up to maxBatchGet items by primary key, strongly
// consistent, asking again for the keys DynamoDB left unprocessed after a
// growing pause (they are left when their partition is throttled).
func (s *Store) batchGet(ctx context.Context, lookups []map[string]types.AttributeValue) ([]map[string]types.AttributeValue, error) {
	req := map[string]types.KeysAndAttributes{s.table: {Keys: lookups, ConsistentRead: aws.Bool(true)}}
	var items []map[string]types.AttributeValue
	for round := range batchGetTries {
		if round > 0 {
			if err := retry.Pause(ctx, round); err != nil {
				return nil, err
			}
		}
		out, err := s.api.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: req})
		if err != nil {
			return nil, err
		}
		items = append(items, out.Responses[s.table]...)
		if len(out.UnprocessedKeys[s.table].Keys) == 0 {
			return items, nil
		}
		req = out.UnprocessedKeys
	}
	return nil, errors.New("keys left unprocessed")
}

// ListUsage returns the key's usage days from from to to (inclusive,
// YYYY-MM-DD), in ascending order, leaving out days without an item, with
// one Query on the key's usage partition (sk BETWEEN). A year of days fits in one
// page; further pages, should there be any, are read too.
func (s *Store) ListUsage(ctx context.Context, clientID, from, to string) ([]key.UsageDay, error) {
	if _, ok := parseDate(from); !ok {
		return nil, fmt.Errorf("store: list usage of %s: date %q is not YYYY-MM-DD", clientID, from)
	}
	if _, ok := parseDate(to); !ok {
		return nil, fmt.Errorf("store: list usage of %s: date %q is not YYYY-MM-DD", clientID, to)
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk BETWEEN :from AND :to"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(usagePK(clientID)), ":from": avS(usageSK(from)), ":to": avS(usageSK(to)),
		},
		ConsistentRead: aws.Bool(true),
	}
	var days []key.UsageDay
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: list usage of %s: %w", clientID, err)
		}
		for _, item := range out.Items {
			d, err := usageFromItem(item)
			if err != nil {
				return nil, fmt.Errorf("store: list usage of %s: %w", clientID, err)
			}
			days = append(days, d)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return days, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func usageFromItem(item map[string]types.AttributeValue) (key.UsageDay, error) {
	d := &decoder{item: item}
	date, ok := strings.CutPrefix(d.s(attrSK, true), usageSKPrefix)
	if d.err == nil && !ok {
		d.fail(attrSK, "a usage sort key")
	}
	u := key.UsageDay{Date: date, Denied: map[string]int64{}}
	u.Allowed, _ = d.n(uAllowed, false)
	for name := range item {
		if code, ok := strings.CutPrefix(name, uDeniedPrefix); ok {
			u.Denied[code], _ = d.n(name, true)
		}
	}
	if d.err != nil {
		return key.UsageDay{}, fmt.Errorf("malformed usage item: %w", d.err)
	}
	return u, nil
}
