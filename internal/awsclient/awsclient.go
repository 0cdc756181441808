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
	"net"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// Options selects the region and, for a local stack, the endpoints.
type Options struct {
	// Region is the AWS region. Empty means the SDK's usual resolution
	// (AWS_REGION, which Lambda always sets, then the shared config); with
	// a local endpoint and nothing resolved, us-east-1.
	Region string
	// DynamoDBEndpoint, when set, is the base URL of a local DynamoDB
	// (for example http://127.0.0.1:8000).
	DynamoDBEndpoint string
	// SecretsManagerEndpoint, when set, is the base URL of a local Secrets
	// Manager (for example http://127.0.0.1:5000).
	SecretsManagerEndpoint string
}

// Retry and transport settings. A Lambda invocation has a deadline of its
// own, so the SDK must not spend it waiting on a dead connection.
const (
	// MaxAttempts is the number of tries per API call, the first included.
	MaxAttempts = 3
	// MaxBackoff caps the delay between two tries.
	MaxBackoff = 1 * time.Second

	dialTimeout           = 2 * time.Second
	tlsHandshakeTimeout   = 2 * time.Second
	responseHeaderTimeout = 5 * time.Second
	requestTimeout        = 10 * time.Second
	idleConnTimeout       = 60 * time.Second
	keepAlive             = 30 * time.Second

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

// DynamoDB returns a DynamoDB client. A non-empty endpoint is a local
// DynamoDB: the client uses it as its base endpoint and skips response CRC32
// validation, which DynamoDB Local's error responses fail.
func DynamoDB(cfg aws.Config, endpoint string) *dynamodb.Client {
	return dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.DisableValidateResponseChecksum = true
		}
	})
}

// SecretsManager returns a Secrets Manager client. A non-empty endpoint is a
// local Secrets Manager, used as the client's base endpoint.
func SecretsManager(cfg aws.Config, endpoint string) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(cfg, func(o *secretsmanager.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})
}

// NewRetryer returns the standard retryer with MaxAttempts tries and a
// backoff capped at MaxBackoff. It has the shape config.WithRetryer wants.
func NewRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = MaxAttempts
		o.MaxBackoff = MaxBackoff
	})
}

// NewHTTPClient returns the SDK's HTTP client with short connect, TLS and
// response-header timeouts and an overall per-attempt limit.
func NewHTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = dialTimeout
			d.KeepAlive = keepAlive
		}).
		WithTransportOptions(func(t *http.Transport) {
			t.TLSHandshakeTimeout = tlsHandshakeTimeout
			t.ResponseHeaderTimeout = responseHeaderTimeout
			t.IdleConnTimeout = idleConnTimeout
			t.ExpectContinueTimeout = 1 * time.Second
		}).
		WithTimeout(requestTimeout)
}

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
