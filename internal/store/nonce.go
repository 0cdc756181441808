package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// nonceClaim is the attribute holding the random claim of the request that
// recorded a nonce.
const nonceClaim = "claim"

// UseNonce records a signed request's nonce for clientID until the given
// time, with one conditional PutItem. It reports false when the nonce was
// already recorded and had not expired at now: a replay.
//
// Each use writes a random claim with the nonce. The SDK sends a PutItem
// again when an attempt timed out, and that attempt may have landed: the
// retry then finds the nonce recorded, but with its own claim, so it is this
// request's and not a replay.
func (s *Store) UseNonce(ctx context.Context, clientID, nonce string, now, until time.Time) (bool, error) {
	claim := make([]byte, 16)
	rand.Read(claim)
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			attrPK:     avS(NoncePartitionPrefix + clientID + "#" + nonce),
			attrSK:     avS("NONCE"),
			attrTTL:    &types.AttributeValueMemberN{Value: strconv.FormatInt(until.Unix(), 10)},
			nonceClaim: avB(claim),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		// DynamoDB deletes expired items lazily, so an expired record may
		// still be there: it does not count.
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ttl < :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}},
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		mine, ok := cond.Item[nonceClaim].(*types.AttributeValueMemberB)
		return ok && bytes.Equal(mine.Value, claim), nil
	}
	if err != nil {
		return false, fmt.Errorf("store: use nonce for %s: %w", clientID, err)
	}
	return true, nil
}
