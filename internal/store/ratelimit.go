package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/paykeys/paykeys/internal/retry"
)

// RateLimit counts a try against the limiter name and reports whether it is
// allowed: at most limit allowed tries in any rolling window, exactly. The
// limiter is one item holding the times of the last limit allowed tries; a
// try is allowed when fewer than limit of them fall in the window ending now,
// and is then added with a conditional write (a concurrent try that wrote
// first makes this one read again). A refused try changes nothing. When a try
// is refused, retryAfter (whole seconds, at least 1s) is how long until the
// oldest try in the window leaves it. A limiter that stays contended past
// rateAttempts refuses, never allows on doubt.
func (s *Store) RateLimit(ctx context.Context, name string, limit int, window time.Duration, now time.Time) (allowed bool, retryAfter time.Duration, err error) {
	if limit < 1 || window < time.Second || window%time.Second != 0 {
		return false, 0, fmt.Errorf("store: rate limit %s: need limit >= 1 and a window of whole seconds", name)
	}
	if now.Unix() < 0 {
		return false, 0, errors.New("store: rate limit: time before 1970")
	}
	k := itemKey(ratePK(name), rateSK)
	err = retry.OnConflict(ctx, rateAttempts, ErrStale, func(int) error {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
		if err != nil {
			return fmt.Errorf("store: rate limit %s: %w", name, err)
		}
		d := &decoder{item: out.Item}
		version, _ := d.n(rVersion, false)
		tries := d.int64s(rTries)
		if d.err != nil {
			return fmt.Errorf("store: rate limit %s: %w", name, d.err)
		}
		inWindow := slices.DeleteFunc(tries, func(ms int64) bool { return ms <= now.Add(-window).UnixMilli() })
		if len(inWindow) >= limit {
			oldest := time.UnixMilli(inWindow[len(inWindow)-limit])
			wait := math.Ceil(float64(oldest.Add(window).Sub(now)) / float64(time.Second))
			allowed, retryAfter = false, time.Duration(max(wait, 1))*time.Second
			return nil
		}
		inWindow = append(inWindow, now.UnixMilli())
		list := make([]types.AttributeValue, len(inWindow))
		for i, ms := range inWindow {
			list[i] = avN(ms)
		}
		cond, names := "attribute_not_exists(#k)", map[string]string{"#k": attrPK}
		values := map[string]types.AttributeValue(nil)
		if version > 0 {
			cond, names = "#k = :v", map[string]string{"#k": rVersion}
			values = map[string]types.AttributeValue{":v": avN(version)}
		}
		_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
			TableName: aws.String(s.table),
			Item: map[string]types.AttributeValue{
				attrPK: k[attrPK], attrSK: k[attrSK], rVersion: avN(version + 1),
				rTries:  &types.AttributeValueMemberL{Value: list},
				attrTTL: avN(now.Add(2 * window).Unix()),
			},
			ConditionExpression:       aws.String(cond),
			ExpressionAttributeNames:  names,
			ExpressionAttributeValues: values,
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			return ErrStale // a concurrent try wrote first: read again
		case err != nil:
			return fmt.Errorf("store: rate limit %s: %w", name, err)
		}
		allowed, retryAfter = true, 0
		return nil
	})
	switch {
	case errors.Is(err, ErrStale):
		return false, time.Second, nil
	case err != nil:
		return false, 0, err
	}
	return allowed, retryAfter, nil
}

// The rate limiter's item.
const (
	rateSK       = "LOG"
	rTries       = "tries"
	rVersion     = "v"
	rateAttempts = 40 // a limiter's contenders each win or see it full within about limit rounds
)
