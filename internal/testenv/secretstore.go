package testenv

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/secret"
)

// SecretStoreEnv names the secret store tests run on: "envelope", or
// anything else (unset: the default) for one Secrets Manager secret per key.
// `make test SECRET_STORE=envelope` sets it.
const SecretStoreEnv = "SECRET_STORE"

// Envelope reports whether tests run on the envelope secret store.
func Envelope() bool { return os.Getenv(SecretStoreEnv) == "envelope" }

// SecretStore returns the secret store SECRET_STORE names, over sm and, for
// the envelope store, table (which must exist) with a KEK secret of the
// test's own. Names start with prefix, as with secret.New.
func SecretStore(t testing.TB, sm secret.API, db secret.DynamoAPI, table, prefix string) secret.Backend {
	t.Helper()
	if !Envelope() {
		return secret.New(sm, prefix)
	}
	return secret.NewEnvelope(db, table, prefix, secret.NewKeyring(sm, UniqueName(t, "kek")))
}

// SecretFaults is the DynamoDB client of an envelope store in tests whose
// faults are named after the Secrets Manager calls they stand for, so one
// Faults (FaultySecrets's) fails and counts "the secret store" whichever
// store runs: GetItem is GetSecretValue, PutItem CreateSecret (a first,
// AWSCURRENT version) or PutSecretValue (a staged one), UpdateItem
// UpdateSecretVersionStage, DeleteItem DeleteSecret and Query DescribeSecret.
type SecretFaults struct {
	*dynamodb.Client
	F *Faults
}

func (d SecretFaults) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...ddbOpt) (*dynamodb.GetItemOutput, error) {
	return call(d.F, "GetSecretValue", d.Client.GetItem, ctx, in, o)
}
func (d SecretFaults) PutItem(ctx context.Context, in *dynamodb.PutItemInput, o ...ddbOpt) (*dynamodb.PutItemOutput, error) {
	op := "PutSecretValue"
	if ss, ok := in.Item["stages"].(*types.AttributeValueMemberSS); ok && slices.Contains(ss.Value, secret.StageCurrent) {
		op = "CreateSecret"
	}
	return call(d.F, op, d.Client.PutItem, ctx, in, o)
}
func (d SecretFaults) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, o ...ddbOpt) (*dynamodb.UpdateItemOutput, error) {
	return call(d.F, "UpdateSecretVersionStage", d.Client.UpdateItem, ctx, in, o)
}
func (d SecretFaults) DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, o ...ddbOpt) (*dynamodb.DeleteItemOutput, error) {
	return call(d.F, "DeleteSecret", d.Client.DeleteItem, ctx, in, o)
}
func (d SecretFaults) Query(ctx context.Context, in *dynamodb.QueryInput, o ...ddbOpt) (*dynamodb.QueryOutput, error) {
	return call(d.F, "DescribeSecret", d.Client.Query, ctx, in, o)
}

// FaultySecretStore is SecretStore with every call of either store going
// through f, named as Secrets Manager's (see SecretFaults).
func FaultySecretStore(t testing.TB, f *Faults, table, prefix string) secret.Backend {
	t.Helper()
	sm := FaultySecrets{Client: Secrets(t), F: f}
	return SecretStore(t, sm, SecretFaults{Client: Dynamo(t), F: f}, table, prefix)
}
