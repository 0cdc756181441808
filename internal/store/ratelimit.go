package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// RateLimit counts a try against the limiter name and reports whether it is
// allowed: at most limit tries in any window, estimated from fixed windows
// as prev*(1-elapsed/window)+cur, where cur includes this try. Every try
// counts, allowed or not. When a try is not allowed, retryAfter (whole
// seconds, at least 1s) is how long until a next try would be, if nobody else
// tries in the meantime. window must be a whole number of seconds.
func (s *Store) RateLimit(ctx context.Context, name string, limit int, window time.Duration, now time.Time) (allowed bool, retryAfter time.Duration, err error) {
	if limit < 1 || window < time.Second || window%time.Second != 0 {
		return false, 0, fmt.Errorf("store: rate limit %s: need limit >= 1 and a window of whole seconds", name)
	}
	if now.Unix() < 0 {
		return false, 0, errors.New("store: rate limit: time before 1970")
	}
	w := int64(window / time.Second)
	start := now.Unix() / w * w

	// Read the previous window while counting this try in the current one.
	type prevResult struct {
		n   int64
		err error
	}
	prevc := make(chan prevResult, 1)
	go func() {
		out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:                aws.String(s.table),
			Key:                      itemKey(ratePK(name), strconv.FormatInt(start-w, 10)),
			ConsistentRead:           aws.Bool(true),
			ProjectionExpression:     aws.String("#n"),
			ExpressionAttributeNames: map[string]string{"#n": rCount},
		})
		if err != nil {
			prevc <- prevResult{err: err}
			return
		}
		d := &decoder{item: out.Item}
		n, _ := d.n(rCount, false)
		prevc <- prevResult{n: n, err: d.err}
	}()

	out, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(ratePK(name), strconv.FormatInt(start, 10)),
		UpdateExpression:         aws.String("ADD #n :one SET #ttl = :ttl"),
		ExpressionAttributeNames: map[string]string{"#n": rCount, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one": avN(1),
			":ttl": avN(start + 2*w),
		},
		ReturnValues: types.ReturnValueUpdatedNew,
	})
	prev := <-prevc
	if err != nil {
		return false, 0, fmt.Errorf("store: rate limit %s: %w", name, err)
	}
	if prev.err != nil {
		return false, 0, fmt.Errorf("store: rate limit %s: previous window: %w", name, prev.err)
	}
	d := &decoder{item: out.Attributes}
	cur, _ := d.n(rCount, true)
	if d.err != nil {
		return false, 0, fmt.Errorf("store: rate limit %s: %w", name, d.err)
	}
	elapsed := now.Sub(time.Unix(start, 0))
	allowed, retryAfter = slidingWindow(prev.n, cur, limit, window, elapsed)
	return allowed, retryAfter, nil
}

// slidingWindow estimates the tries in the window ending now from the
// previous fixed window's count prev and the current one's cur (this try
// included), elapsed into the current window. When the estimate is over
// limit it also says how long until one more try would fit, rounded up to
// whole seconds and at least one second.
func slidingWindow(prev, cur int64, limit int, window, elapsed time.Duration) (bool, time.Duration) {
	w, e, l := float64(window), float64(elapsed), float64(limit)
	if float64(prev)*(1-e/w)+float64(cur) <= l {
		return true, 0
	}
	// The next try counts one more: find the earliest t (time into a window)
	// at which the estimate including it is within limit.
	var wait float64
	if next := float64(cur + 1); next <= l && prev > 0 {
		// Still in this window, as the previous window's weight decays:
		// prev*(1-t/w) + next <= l.
		wait = w*(1-(l-next)/float64(prev)) - e
	} else {
		// In the next window, where this window becomes the previous one:
		// cur*(1-t/w) + 1 <= l.
		t := 0.0
		if float64(cur)+1 > l {
			t = w * (1 - (l-1)/float64(cur))
		}
		wait = w - e + t
	}
	secs := math.Ceil(wait / float64(time.Second))
	return false, time.Duration(max(secs, 1)) * time.Second
}
