package store

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrLimitReached means a create would take a merchant past its limit
// (keys that are not revoked, webhook endpoints); nothing was written.
var ErrLimitReached = errors.New("limit reached")

// Per-merchant counters, one item each:
//
//	count        pk MERCHANT#<merchant id>#COUNT     sk KEYS | WEBHOOKS
//	             n: how many of them the merchant has (keys: not revoked)
//
// A create adds one in the same transaction as the item it creates, on the
// condition that the count is below the limit; revoking a key or deleting an
// endpoint takes one off in the same transaction. So concurrent creates can
// never take a merchant past its limit: DynamoDB serialises the conditional
// updates of the one counter item.
const (
	countKeys     = "KEYS"
	countWebhooks = "WEBHOOKS"
)

func countPK(merchant string) string { return "MERCHANT#" + merchant + "#COUNT" }

// countUp counts one more of what, provided fewer than limit are counted
// (limit 0: no limit).
func (s *Store) countUp(merchant, what string, limit int) types.TransactWriteItem {
	u := expression.Add(attrOf(rCount), val(avN(1)))
	var cond *expression.ConditionBuilder
	if limit > 0 {
		c := expression.Or(attrOf(rCount).AttributeNotExists(), attrOf(rCount).LessThan(val(avN(int64(limit)))))
		cond = &c
	}
	b := mustBuildUpdate(u, cond)
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: itemKey(countPK(merchant), what),
		UpdateExpression: b.update, ConditionExpression: b.condition,
		ExpressionAttributeNames: b.names, ExpressionAttributeValues: b.values,
	}}
}

// countDown counts one fewer of what.
func (s *Store) countDown(merchant, what string) types.TransactWriteItem {
	b := mustBuildUpdate(expression.Add(attrOf(rCount), val(avN(-1))), nil)
	return types.TransactWriteItem{Update: &types.Update{
		TableName: aws.String(s.table), Key: itemKey(countPK(merchant), what),
		UpdateExpression: b.update, ExpressionAttributeNames: b.names, ExpressionAttributeValues: b.values,
	}}
}
