package secret

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// List returns up to limit names (without the prefix) of secrets under the
// store's prefix, read from the KEK index partitions of every labelled KEK
// version, from cursor ("" for the first page), and the next page's cursor
// ("" after the last). A name with several versions may come more than once.
func (e *Envelope) List(ctx context.Context, cursor string, limit int) ([]string, string, error) {
	return listNames(ctx, e.ListDated, cursor, limit)
}

// ListDated is List with the time each name's versions on the page were
// last written (the newest of them).
func (e *Envelope) ListDated(ctx context.Context, cursor string, limit int) ([]Listed, string, error) {
	labels, err := e.keks.Labels(ctx)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, "", nil // no KEK yet: nothing was ever stored
		}
		return nil, "", err
	}
	var parts []string
	for _, v := range slices.Sorted(maps.Keys(labels)) {
		for shard := 0; shard < envShards; shard++ {
			parts = append(parts, kekPartitionShard(v, shard))
		}
	}
	i, start := 0, map[string]types.AttributeValue(nil)
	if cursor != "" {
		f := strings.Split(cursor, "\n")
		if len(f) != 4 {
			return nil, "", fmt.Errorf("secret: list: %w: bad cursor", ErrInvalid)
		}
		i = slices.Index(parts, f[0])
		switch {
		case i < 0:
			i = 0 // the KEK versions changed: start over
		case f[1] == "":
			// the start of partition i
		default:
			start = map[string]types.AttributeValue{
				attrGSIPK: &types.AttributeValueMemberS{Value: f[0]}, attrGSISK: &types.AttributeValueMemberS{Value: f[1]},
				attrPK: &types.AttributeValueMemberS{Value: f[2]}, attrSK: &types.AttributeValueMemberS{Value: f[3]},
			}
		}
	}
	var names []Listed
	for ; i < len(parts); i, start = i+1, nil {
		out, err := e.db.Query(ctx, &dynamodb.QueryInput{
			TableName:              aws.String(e.table),
			IndexName:              aws.String(envGSIIndex),
			KeyConditionExpression: aws.String("gsi2pk = :p AND begins_with(gsi2sk, :n)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":p": &types.AttributeValueMemberS{Value: parts[i]},
				":n": &types.AttributeValueMemberS{Value: e.prefix},
			},
			ExclusiveStartKey: start,
			Limit:             aws.Int32(int32(min(max(limit, 1), 1000))),
		})
		if err != nil {
			return nil, "", fmt.Errorf("secret: list %s*: %w", e.prefix, err)
		}
		for _, it := range out.Items {
			at, _ := time.Parse(time.RFC3339Nano, str(it[attrAt]))
			n := str(it[attrName])
			switch j := slices.IndexFunc(names, func(l Listed) bool { return l.Name == n }); {
			case j < 0:
				names = append(names, Listed{Name: n, Written: at})
			case at.After(names[j].Written):
				names[j].Written = at
			}
		}
		if lek := out.LastEvaluatedKey; len(lek) > 0 {
			return names, strings.Join([]string{str(lek[attrGSIPK]), str(lek[attrGSISK]), str(lek[attrPK]), str(lek[attrSK])}, "\n"), nil
		}
		if len(names) >= limit && i+1 < len(parts) {
			return names, parts[i+1] + "\n\n\n", nil
		}
	}
	return names, "", nil
}
