package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// UseNonce records a signed request's nonce for clientID until the given
// time, with one conditional PutItem. It reports false when the nonce was
// already recorded and had not expired at now: a replay.
func (s *Store) UseNonce(ctx context.Context, clientID, nonce string, now, until time.Time) (bool, error) {
	_, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item: map[string]types.AttributeValue{
			attrPK:  avS(NoncePartitionPrefix + clientID + "#" + nonce),
			attrSK:  avS("NONCE"),
			attrTTL: &types.AttributeValueMemberN{Value: strconv.FormatInt(until.Unix(), 10)},
		},
		// DynamoDB deletes expired items lazily, so an expired record may
		// still be there: it does not count.
		ConditionExpression:       aws.String("attribute_not_exists(#pk) OR #ttl < :now"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": &types.AttributeValueMemberN{Value: strconv.FormatInt(now.Unix(), 10)}},
	})
	var cond *types.ConditionalCheckFailedException
	if errors.As(err, &cond) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: use nonce for %s: %w", clientID, err)
	}
	return true, nil
}
