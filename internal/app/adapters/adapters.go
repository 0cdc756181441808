// Package adapters builds what every function but demo reads and writes
// through: the AWS clients, the DynamoDB store and the Secrets Manager store,
// and the key service over them. Building them makes no network call.
package adapters

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
)

// Adapters are the stores of one configuration.
type Adapters struct {
	AWS     aws.Config
	Dynamo  *dynamodb.Client
	Store   *store.Store
	Secrets *secret.Store
}

// Open builds the AWS clients and the stores.
func Open(ctx context.Context, cfg config.Config) (*Adapters, error) {
	awsCfg, err := awsclient.Load(ctx, awsclient.Options{
		Region:                 cfg.Region,
		DynamoDBEndpoint:       cfg.DynamoDBEndpoint,
		SecretsManagerEndpoint: cfg.SecretsManagerEndpoint,
	})
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	a := &Adapters{AWS: awsCfg, Dynamo: awsclient.DynamoDB(awsCfg, cfg.DynamoDBEndpoint)}
	var opts []store.Option
	if len(cfg.CursorKey) > 0 {
		opts = append(opts, store.WithCursorKey(cfg.CursorKey))
	}
	a.Store = store.New(a.Dynamo, cfg.TableName, opts...)
	a.Secrets = secret.New(awsclient.SecretsManager(awsCfg, cfg.SecretsManagerEndpoint), cfg.SecretPrefix)
	return a, nil
}

// Keys returns the key service, with the configured per-merchant limit.
func (a *Adapters) Keys(cfg config.Config, log *slog.Logger) *keysvc.Service {
	k := keysvc.New(a.Store, a.Secrets, log)
	k.MaxKeys = cfg.MaxKeysPerMerchant
	return k
}
