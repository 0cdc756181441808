// Package awsclient builds the AWS SDK clients every function shares.
//
// Clients are built once, outside the Lambda handler, and building them
// makes no network call: credentials are resolved lazily on the first
// request. Timeouts and retries are tuned for Lambda, where a request that
// hangs costs the caller's whole deadline: connecting and the TLS handshake
// fail fast, and retries are few and short.
//
// A non-empty endpoint points a client at a local stand-in (DynamoDB Local,
// moto); everything else stays as in AWS.
package awsclient

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/awsclient/envconfig"
)

// Options selects the region and, for a local stack, the endpoints.
type Options = envconfig.Options

// Retry settings (see envconfig).
const (
	MaxAttempts = envconfig.MaxAttempts
	MaxBackoff  = envconfig.MaxBackoff

	localRegion = "us-east-1"
)

// Load resolves the shared AWS configuration: region, credentials chain,
// retryer and HTTP client. It reads the process environment and shared config
// files the way the SDK always does, and makes no network call.
//
// When a local endpoint is set and the environment carries no credentials,
// the static credentials "test"/"test" are used, so a local stack works with
// no AWS setup at all.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{
		config.WithRetryer(NewRetryer),
		config.WithHTTPClient(NewHTTPClient()),
	}
	if o.Region != "" {
		opts = append(opts, config.WithRegion(o.Region))
	}
	local := o.DynamoDBEndpoint != "" || o.SecretsManagerEndpoint != ""
	if local && !envHasCredentials() {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("test", "test", "")))
	}

	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("aws config: %w", err)
	}
	if cfg.Region == "" {
		if !local {
			return aws.Config{}, errors.New("aws config: no region (set AWS_REGION)")
		}
		cfg.Region = localRegion
	}
	return cfg, nil
}

// DynamoDB returns a DynamoDB client (envconfig.DynamoDB).
func DynamoDB(cfg aws.Config, endpoint string) *dynamodb.Client {
	return envconfig.DynamoDB(cfg, endpoint)
}

// SecretsManager returns a Secrets Manager client (envconfig.SecretsManager).
func SecretsManager(cfg aws.Config, endpoint string) *secretsmanager.Client {
	return envconfig.SecretsManager(cfg, endpoint)
}

// NewRetryer returns the standard retryer with MaxAttempts tries and a
// backoff capped at MaxBackoff. It has the shape config.WithRetryer wants.
func NewRetryer() aws.Retryer { return envconfig.NewRetryer() }

// NewHTTPClient returns the SDK's HTTP client with short connect, TLS and
// response-header timeouts and an overall per-attempt limit.
func NewHTTPClient() *awshttp.BuildableClient { return envconfig.NewHTTPClient() }

// envHasCredentials reports whether the environment names credentials of its
// own (keys, a profile, a web identity or a container credentials endpoint).
func envHasCredentials() bool {
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID",
		"AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	} {
		if os.Getenv(name) != "" {
			return true
		}
	}
	return false
}

// DynamoDBStreams returns a DynamoDB Streams client. A non-empty endpoint is
// DynamoDB Local, which serves streams on its own endpoint.
func DynamoDBStreams(cfg aws.Config, endpoint string) *dynamodbstreams.Client {
	return dynamodbstreams.NewFromConfig(cfg, func(o *dynamodbstreams.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}
