package secret

import (
	"context"
	"crypto/cipher"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultRewrapMargin is how long after a KEK rotation Rewrap waits before
// it retires the previous KEK, however empty its partitions look: a writer
// that read the current KEK just before the rotation, and the index's lag,
// both settle well within it.
const DefaultRewrapMargin = time.Minute

// RewrapStats is what one Rewrap did.
type RewrapStats struct {
	From      string `json:"from_kek_version,omitempty"` // the previous KEK version being re-wrapped away from
	To        string `json:"to_kek_version,omitempty"`   // the current KEK version
	Rewrapped int    `json:"rewrapped"`                  // ciphertexts re-wrapped under the current KEK
	Retired   bool   `json:"kek_retired"`                // the previous KEK version was retired
	Remaining bool   `json:"remaining"`                  // stopped at the limit; the next run goes on
}

// Rewrap moves up to limit ciphertexts from the previous KEK version (the
// one labelled AWSPREVIOUS) to the current one, in index pages, each with a
// conditional write (so a concurrent change or another Rewrap wins cleanly).
// It keeps no cursor: what is left to do is exactly what the previous
// version's index partitions still list, so a run cut off anywhere resumes
// with the next. When those partitions are empty and the rotation is older
// than margin, it retires the previous version. With no previous version,
// or no KEK at all yet, it does nothing.
func (e *Envelope) Rewrap(ctx context.Context, limit int, margin time.Duration) (RewrapStats, error) {
	prev, err := e.keks.Previous(ctx)
	if errors.Is(err, ErrNotFound) {
		return RewrapStats{}, nil // no KEK yet: nothing was ever sealed
	}
	if err != nil || prev == "" {
		return RewrapStats{}, err
	}
	cur, curAEAD, err := e.keks.Current(ctx)
	if err != nil {
		return RewrapStats{}, err
	}
	st := RewrapStats{From: prev, To: cur}
	if cur == prev {
		return st, nil
	}
	oldAEAD, err := e.keks.Version(ctx, prev)
	if err != nil {
		return st, err
	}
	left := false
	for shard := 0; shard < envShards; shard++ {
		in := &dynamodb.QueryInput{
			TableName:              aws.String(e.table),
			IndexName:              aws.String(envGSIIndex),
			KeyConditionExpression: aws.String("gsi2pk = :p"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": &types.AttributeValueMemberS{Value: kekPartitionShard(prev, shard)},
			},
			Limit: aws.Int32(100),
		}
		for {
			if st.Rewrapped >= limit {
				st.Remaining = true
				return st, nil
			}
			if err := ctx.Err(); err != nil {
				st.Remaining = true
				return st, err
			}
			out, err := e.db.Query(ctx, in)
			if err != nil {
				return st, fmt.Errorf("rewrap: read kek partition: %w", err)
			}
			for _, it := range out.Items {
				if st.Rewrapped >= limit {
					st.Remaining = true
					return st, nil
				}
				done, err := e.rewrapOne(ctx, it, prev, cur, oldAEAD, curAEAD)
				if err != nil {
					return st, err
				}
				if done {
					st.Rewrapped++
					left = true // the index may not show it gone yet; confirm on the next run
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	if left {
		return st, nil
	}
	old, err := e.rotatedBefore(ctx, cur, margin)
	if err != nil || !old {
		return st, err
	}
	if err := e.keks.Retire(ctx, prev); err != nil {
		return st, err
	}
	st.Retired = true
	return st, nil
}

// rewrapOne re-reads one index entry's item and, if it is still sealed under
// from, seals it again under to. It reports whether it wrote.
func (e *Envelope) rewrapOne(ctx context.Context, entry map[string]types.AttributeValue, from, to string, fromAEAD, toAEAD cipher.AEAD) (bool, error) {
	key := map[string]types.AttributeValue{attrPK: entry[attrPK], attrSK: entry[attrSK]}
	got, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(e.table), Key: key, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, fmt.Errorf("rewrap: read: %w", err)
	}
	it := got.Item
	if it == nil || str(it[attrKEK]) != from {
		return false, nil // deleted or re-wrapped meanwhile
	}
	name, ver, ct := str(it[attrName]), str(it[attrVer]), bin(it[attrCT])
	fullName := str(it[attrPK])[len(envPKPrefix):]
	pt, err := open(fromAEAD, name, ver, ct)
	if err != nil {
		return false, fmt.Errorf("rewrap %s version %s: %w", fullName, ver, err)
	}
	_, err = e.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(e.table),
		Key:                 key,
		UpdateExpression:    aws.String("SET ct = :ct, kek = :to, gsi2pk = :p"),
		ConditionExpression: aws.String("kek = :from AND ct = :old"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":ct":   &types.AttributeValueMemberB{Value: seal(toAEAD, name, ver, pt)},
			":to":   &types.AttributeValueMemberS{Value: to},
			":p":    &types.AttributeValueMemberS{Value: kekPartition(to, fullName)},
			":from": &types.AttributeValueMemberS{Value: from},
			":old":  &types.AttributeValueMemberB{Value: ct},
		},
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rewrap %s version %s: write: %w", fullName, ver, err)
	}
	return true, nil
}

// rotatedBefore reports whether KEK version cur was created more than margin ago.
func (e *Envelope) rotatedBefore(ctx context.Context, cur string, margin time.Duration) (bool, error) {
	if margin <= 0 {
		return true, nil
	}
	at, err := e.keks.created(ctx, cur)
	if err != nil || at.IsZero() {
		return false, err
	}
	return time.Since(at) > margin, nil
}
