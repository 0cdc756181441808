package testenv

import (
	"context"
	"errors"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// ErrInjected is the error a Faults returns in place of a real call.
var ErrInjected = errors.New("injected fault")

// Faults decides which calls to an AWS API fail, and counts every call.
type Faults struct {
	mu    sync.Mutex
	calls map[string]int
	fail  map[string]int // operation -> the call number to fail (1-based); -1 fails every call
}

// NewFaults returns a Faults that fails nothing yet.
func NewFaults() *Faults { return &Faults{calls: map[string]int{}, fail: map[string]int{}} }

// FailNth makes the nth call of op from now on fail (1 = the next call).
func (f *Faults) FailNth(op string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = f.calls[op] + n
}

// FailAll makes every call of op fail until Reset.
func (f *Faults) FailAll(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail[op] = -1
}

// Reset stops injecting faults and zeroes the counters.
func (f *Faults) Reset() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls, f.fail = map[string]int{}, map[string]int{}
}

// Calls returns how many calls of op were made.
func (f *Faults) Calls(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *Faults) hit(op string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if n, ok := f.fail[op]; ok && (n == -1 || n == f.calls[op]) {
		return ErrInjected
	}
	return nil
}

func call[In, Out any, O any](f *Faults, op string, next func(context.Context, In, ...func(O)) (Out, error), ctx context.Context, in In, opts []func(O)) (Out, error) {
	if err := f.hit(op); err != nil {
		var zero Out
		return zero, err
	}
	return next(ctx, in, opts...)
}

// FaultyDynamo is a DynamoDB client whose calls can be made to fail.
type FaultyDynamo struct {
	*dynamodb.Client
	F *Faults
}

type ddbOpt = func(*dynamodb.Options)

func (d FaultyDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...ddbOpt) (*dynamodb.GetItemOutput, error) {
	return call(d.F, "GetItem", d.Client.GetItem, ctx, in, o)
}
func (d FaultyDynamo) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...ddbOpt) (*dynamodb.PutItemOutput, error) {
	return call(d.F, "PutItem", d.Client.PutItem, ctx, in, o)
}
func (d FaultyDynamo) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...ddbOpt) (*dynamodb.UpdateItemOutput, error) {
	return call(d.F, "UpdateItem", d.Client.UpdateItem, ctx, in, o)
}
func (d FaultyDynamo) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...ddbOpt) (*dynamodb.DeleteItemOutput, error) {
	return call(d.F, "DeleteItem", d.Client.DeleteItem, ctx, in, o)
}
func (d FaultyDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, o ...ddbOpt) (*dynamodb.QueryOutput, error) {
	return call(d.F, "Query", d.Client.Query, ctx, in, o)
}
func (d FaultyDynamo) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...ddbOpt) (*dynamodb.TransactWriteItemsOutput, error) {
	return call(d.F, "TransactWriteItems", d.Client.TransactWriteItems, ctx, in, o)
}
func (d FaultyDynamo) BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, o ...ddbOpt) (*dynamodb.BatchGetItemOutput, error) {
	return call(d.F, "BatchGetItem", d.Client.BatchGetItem, ctx, in, o)
}

// FaultySecrets is a Secrets Manager client whose calls can be made to fail.
type FaultySecrets struct {
	*secretsmanager.Client
	F *Faults
}

type smOpt = func(*secretsmanager.Options)

func (s FaultySecrets) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, o ...smOpt) (*secretsmanager.CreateSecretOutput, error) {
	return call(s.F, "CreateSecret", s.Client.CreateSecret, ctx, in, o)
}
func (s FaultySecrets) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...smOpt) (*secretsmanager.PutSecretValueOutput, error) {
	return call(s.F, "PutSecretValue", s.Client.PutSecretValue, ctx, in, o)
}
func (s FaultySecrets) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...smOpt) (*secretsmanager.GetSecretValueOutput, error) {
	return call(s.F, "GetSecretValue", s.Client.GetSecretValue, ctx, in, o)
}
func (s FaultySecrets) DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, o ...smOpt) (*secretsmanager.DescribeSecretOutput, error) {
	return call(s.F, "DescribeSecret", s.Client.DescribeSecret, ctx, in, o)
}
func (s FaultySecrets) ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, o ...smOpt) (*secretsmanager.ListSecretVersionIdsOutput, error) {
	return call(s.F, "ListSecretVersionIds", s.Client.ListSecretVersionIds, ctx, in, o)
}
func (s FaultySecrets) UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, o ...smOpt) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	return call(s.F, "UpdateSecretVersionStage", s.Client.UpdateSecretVersionStage, ctx, in, o)
}
func (s FaultySecrets) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, o ...smOpt) (*secretsmanager.DeleteSecretOutput, error) {
	return call(s.F, "DeleteSecret", s.Client.DeleteSecret, ctx, in, o)
}
