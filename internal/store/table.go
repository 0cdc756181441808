package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableAPI is the part of the DynamoDB client CreateTable uses.
type TableAPI interface {
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
}

var _ TableAPI = (*dynamodb.Client)(nil)

// How CreateTable waits for a table to become active.
const (
	tablePollInterval = 100 * time.Millisecond
	tableWaitTimeout  = 5 * time.Minute
)

// CreateTable creates the store's table as the SAM template declares it
// (on-demand, with indexes gsi1 and gsi2, a stream of new and old images and TTL on
// ttl), for local stacks and tests. A table that already exists is fine if
// its keys and index are the store's. It returns once the table and its
// index are active and TTL is on.
func CreateTable(ctx context.Context, api TableAPI, table string) error {
	str := types.ScalarAttributeTypeS
	_, err := api.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{
			{AttributeName: aws.String(attrPK), AttributeType: str},
			{AttributeName: aws.String(attrSK), AttributeType: str},
			{AttributeName: aws.String(attrGSI1PK), AttributeType: str},
			{AttributeName: aws.String(attrGSI1SK), AttributeType: str},
			{AttributeName: aws.String(attrGSI2PK), AttributeType: str},
			{AttributeName: aws.String(attrGSI2SK), AttributeType: str},
		},
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
		},
		GlobalSecondaryIndexes: []types.GlobalSecondaryIndex{
			index(indexGSI1, attrGSI1PK, attrGSI1SK),
			index(indexGSI2, attrGSI2PK, attrGSI2SK),
		},
		StreamSpecification: &types.StreamSpecification{
			StreamEnabled:  aws.Bool(true),
			StreamViewType: types.StreamViewTypeNewAndOldImages,
		},
	})
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) {
		return fmt.Errorf("store: create table %s: %w", table, err)
	}
	ctx, cancel := context.WithTimeout(ctx, tableWaitTimeout)
	defer cancel()
	desc, err := waitActive(ctx, api, table)
	if err != nil {
		return err
	}
	if err := checkSchema(desc); err != nil {
		return fmt.Errorf("store: table %s: %w", table, err)
	}
	return enableTTL(ctx, api, table)
}

// waitActive polls until the table and all its indexes are active.
func waitActive(ctx context.Context, api TableAPI, table string) (*types.TableDescription, error) {
	for {
		out, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
		if err != nil {
			return nil, fmt.Errorf("store: describe table %s: %w", table, err)
		}
		if d := out.Table; d != nil && d.TableStatus == types.TableStatusActive && indexesActive(d) {
			return d, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("store: table %s did not become active: %w", table, ctx.Err())
		case <-time.After(tablePollInterval):
		}
	}
}

func indexesActive(d *types.TableDescription) bool {
	for _, g := range d.GlobalSecondaryIndexes {
		if g.IndexStatus != types.IndexStatusActive {
			return false
		}
	}
	return true
}

// checkSchema makes sure an existing table has the store's keys and index.
func checkSchema(d *types.TableDescription) error {
	if !sameKeys(d.KeySchema, attrPK, attrSK) {
		return errors.New("its primary key is not pk/sk")
	}
	want := map[string][2]string{indexGSI1: {attrGSI1PK, attrGSI1SK}, indexGSI2: {attrGSI2PK, attrGSI2SK}}
	for _, g := range d.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		keys, ok := want[name]
		if !ok {
			continue
		}
		if !sameKeys(g.KeySchema, keys[0], keys[1]) ||
			g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
			return fmt.Errorf("its index %s is not %s/%s projecting all attributes", name, keys[0], keys[1])
		}
		delete(want, name)
	}
	for name := range want {
		return fmt.Errorf("it has no index %s (delete the table to recreate it)", name)
	}
	return nil
}

func index(name, hash, rng string) types.GlobalSecondaryIndex {
	return types.GlobalSecondaryIndex{
		IndexName: aws.String(name),
		KeySchema: []types.KeySchemaElement{
			{AttributeName: aws.String(hash), KeyType: types.KeyTypeHash},
			{AttributeName: aws.String(rng), KeyType: types.KeyTypeRange},
		},
		Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
	}
}

func sameKeys(ks []types.KeySchemaElement, hash, rng string) bool {
	if len(ks) != 2 {
		return false
	}
	var h, r string
	for _, k := range ks {
		switch k.KeyType {
		case types.KeyTypeHash:
			h = aws.ToString(k.AttributeName)
		case types.KeyTypeRange:
			r = aws.ToString(k.AttributeName)
		}
	}
	return h == hash && r == rng
}

// enableTTL turns TTL on for attribute ttl unless it already is.
func enableTTL(ctx context.Context, api TableAPI, table string) error {
	ttlOn := func() (bool, error) {
		out, err := api.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
		if err != nil {
			return false, fmt.Errorf("store: describe TTL of %s: %w", table, err)
		}
		d := out.TimeToLiveDescription
		if d == nil {
			return false, nil
		}
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if a := aws.ToString(d.AttributeName); a != attrTTL {
				return false, fmt.Errorf("store: table %s has TTL on %q, not %q", table, a, attrTTL)
			}
			return true, nil
		}
		return false, nil
	}
	if on, err := ttlOn(); on || err != nil {
		return err
	}
	_, err := api.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		// Someone else may have turned it on meanwhile.
		if on, err2 := ttlOn(); on && err2 == nil {
			return nil
		}
		return fmt.Errorf("store: enable TTL on %s: %w", table, err)
	}
	return nil
}
