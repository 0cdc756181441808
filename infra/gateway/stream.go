package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"
)

// streamAPI is the part of the DynamoDB Streams client the tail uses.
type streamAPI interface {
	DescribeStream(ctx context.Context, in *dynamodbstreams.DescribeStreamInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.DescribeStreamOutput, error)
	GetShardIterator(ctx context.Context, in *dynamodbstreams.GetShardIteratorInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetShardIteratorOutput, error)
	GetRecords(ctx context.Context, in *dynamodbstreams.GetRecordsInput, optFns ...func(*dynamodbstreams.Options)) (*dynamodbstreams.GetRecordsOutput, error)
}

// tableAPI finds the table's stream.
type tableAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

// streamTail reads the table's stream in DynamoDB Local and hands each batch
// of records to handle, as the Lambda event source mapping does for the
// webhook function in AWS, so make dev delivers a change within moments and
// through the same stream handler. Records already in the stream when it
// starts are not replayed (the sweep sends anything still due); shards that
// appear later are read from their start. A failed batch is not retried
// here: its events stay due and the sweep sends them.
type streamTail struct {
	streams streamAPI
	tables  tableAPI
	table   string
	handle  func(context.Context, events.DynamoDBEvent) events.DynamoDBEventResponse
	log     *slog.Logger
	every   time.Duration

	iterators map[string]*string // shard ID → next iterator; nil once the shard is closed and read
}

// run tails the stream until ctx ends.
func (t *streamTail) run(ctx context.Context) error {
	out, err := t.tables.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(t.table)})
	if err != nil {
		return fmt.Errorf("describe table %s: %w", t.table, err)
	}
	arn := aws.ToString(out.Table.LatestStreamArn)
	if arn == "" {
		return fmt.Errorf("table %s has no stream", t.table)
	}
	t.iterators = map[string]*string{}
	first := true
	tick := time.NewTicker(t.every)
	defer tick.Stop()
	for {
		if err := t.discover(ctx, arn, first); err != nil && ctx.Err() == nil {
			t.log.Warn("stream: describe failed", "error", err.Error())
		}
		first = false
		for shard, it := range t.iterators {
			if it == nil {
				continue
			}
			next, err := t.read(ctx, it)
			if err != nil && ctx.Err() == nil {
				t.log.Warn("stream: read failed", "shard", shard, "error", err.Error())
				continue
			}
			t.iterators[shard] = next
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// discover opens an iterator on each shard not seen yet: at its end for the
// shards there at the start, from its beginning for the ones that come later.
func (t *streamTail) discover(ctx context.Context, arn string, atStart bool) error {
	var start *string
	for {
		out, err := t.streams.DescribeStream(ctx, &dynamodbstreams.DescribeStreamInput{StreamArn: aws.String(arn), ExclusiveStartShardId: start})
		if err != nil {
			return err
		}
		for _, sh := range out.StreamDescription.Shards {
			id := aws.ToString(sh.ShardId)
			if _, seen := t.iterators[id]; seen {
				continue
			}
			typ := types.ShardIteratorTypeTrimHorizon
			if atStart {
				typ = types.ShardIteratorTypeLatest
			}
			it, err := t.streams.GetShardIterator(ctx, &dynamodbstreams.GetShardIteratorInput{
				StreamArn: aws.String(arn), ShardId: sh.ShardId, ShardIteratorType: typ,
			})
			if err != nil {
				return err
			}
			t.iterators[id] = it.ShardIterator
		}
		start = out.StreamDescription.LastEvaluatedShardId
		if start == nil {
			return nil
		}
	}
}

// read hands one page of a shard's records to the handler and returns the
// next iterator (nil when the shard is closed and fully read).
func (t *streamTail) read(ctx context.Context, it *string) (*string, error) {
	out, err := t.streams.GetRecords(ctx, &dynamodbstreams.GetRecordsInput{ShardIterator: it})
	var expired *types.ExpiredIteratorException
	if errors.As(err, &expired) {
		return nil, err
	}
	if err != nil {
		return it, err
	}
	if len(out.Records) > 0 {
		batch := events.DynamoDBEvent{Records: make([]events.DynamoDBEventRecord, 0, len(out.Records))}
		for _, r := range out.Records {
			batch.Records = append(batch.Records, lambdaRecord(r))
		}
		if resp := t.handle(ctx, batch); len(resp.BatchItemFailures) > 0 {
			t.log.Warn("stream: records left to the sweep", "failed", len(resp.BatchItemFailures))
		}
	}
	return out.NextShardIterator, nil
}

// lambdaRecord is a stream record as Lambda passes it, with the fields the
// webhook function reads: the event name, the keys and the sequence number.
func lambdaRecord(r types.Record) events.DynamoDBEventRecord {
	keys := map[string]events.DynamoDBAttributeValue{}
	if r.Dynamodb != nil {
		for name, v := range r.Dynamodb.Keys {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				keys[name] = events.NewStringAttribute(s.Value)
			}
		}
	}
	rec := events.DynamoDBEventRecord{EventName: string(r.EventName), EventSource: "aws:dynamodb"}
	rec.Change.Keys = keys
	if r.Dynamodb != nil {
		rec.Change.SequenceNumber = aws.ToString(r.Dynamodb.SequenceNumber)
	}
	return rec
}
