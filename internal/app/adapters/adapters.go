// Package adapters builds what every function but demo reads and writes
// through: the AWS clients, the DynamoDB store and the Secrets Manager store,
// and the key service over them. Building them makes no network call.
package adapters

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/awsclient/envconfig"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
)

// Adapters are the stores of one configuration.
type Adapters struct {
	AWS    aws.Config
	Dynamo *dynamodb.Client
	Store  *store.Store
	// Secrets holds key secrets (<prefix>keys/), WebhookSecrets webhook
	// signing secrets (<prefix>webhooks/): a function that uses one kind is
	// given no access to the other.
	Secrets        *secret.Chain
	WebhookSecrets *secret.Chain
}

// Open builds the AWS clients, with the region and credentials Lambda puts
// in the environment (envconfig), and the stores.
func Open(_ context.Context, cfg config.Config) (*Adapters, error) {
	awsCfg, err := envconfig.Load(os.Getenv, Options(cfg))
	if err != nil {
		return nil, err
	}
	return With(awsCfg, cfg), nil
}

// Options are the AWS options of a configuration.
func Options(cfg config.Config) envconfig.Options {
	return envconfig.Options{
		Region:                 cfg.Region,
		DynamoDBEndpoint:       cfg.DynamoDBEndpoint,
		SecretsManagerEndpoint: cfg.SecretsManagerEndpoint,
	}
}

// With builds the clients and stores over an AWS configuration.
func With(awsCfg aws.Config, cfg config.Config) *Adapters {
	a := &Adapters{AWS: awsCfg, Dynamo: envconfig.DynamoDB(awsCfg, cfg.DynamoDBEndpoint)}
	var opts []store.Option
	if len(cfg.CursorKey) > 0 {
		opts = append(opts, store.WithCursorKey(cfg.CursorKey))
	}
	a.Store = store.New(a.Dynamo, cfg.TableName, opts...)
	sm := envconfig.SecretsManager(awsCfg, cfg.SecretsManagerEndpoint)
	a.Secrets = Secrets(sm, a.Dynamo, cfg, secret.KeysDir, cfg.KEKSecretName)
	a.WebhookSecrets = Secrets(sm, a.Dynamo, cfg, secret.WebhooksDir, cfg.WebhookKEKSecretName)
	return a
}

// Keys returns the key service, with the configured per-merchant limit.
func (a *Adapters) Keys(cfg config.Config, log *slog.Logger) *keysvc.Service {
	k := keysvc.New(a.Store, a.Secrets, log)
	k.MaxKeys = cfg.MaxKeysPerMerchant
	k.Brand = cfg.Brand
	k.LeakPolicy = cfg.LeakPolicy
	return k
}

// Secrets returns the store of one kind of secret (dir: secret.KeysDir or
// secret.WebhooksDir, its envelope store sealing with the KEKs kept in the
// secret kek) that SECRET_STORE names, chained to the other one, which is
// still read (see secret.Chain).
func Secrets(sm secret.API, db secret.DynamoAPI, cfg config.Config, dir, kek string) *secret.Chain {
	perKey := secret.New(sm, cfg.SecretPrefix+dir)
	keks := secret.NewKeyring(sm, kek)
	perKey.KMSKeyID, keks.KMSKeyID = cfg.SecretsKMSKeyID, cfg.SecretsKMSKeyID
	env := secret.NewEnvelope(db, cfg.TableName, cfg.SecretPrefix+dir, keks)
	if cfg.SecretStore == config.SecretStoreEnvelope {
		return secret.NewChain(env, perKey)
	}
	return secret.NewChain(perKey, env)
}
