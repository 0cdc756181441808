// Package envconfig builds the AWS SDK configuration and clients the Lambda
// functions use from the environment alone, as Lambda provides it: the
// region in AWS_REGION and the execution role's credentials in
// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. It does
// not link the SDK's config package, whose shared files, SSO, STS and
// instance-metadata providers a function never uses and which make up a
// quarter of its binary.
//
// Timeouts and retries are tuned for Lambda, where a request that hangs
// costs the caller's whole deadline: connecting and the TLS handshake fail
// fast, and retries are few and short. A non-empty endpoint points a client
// at a local stand-in (DynamoDB Local, moto).
package envconfig

import (
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/smithy-go/middleware"

	"github.com/paykeys/paykeys/internal/metrics"
)

// Options selects the region and, for a local stack, the endpoints.
type Options struct {
	// Region is the AWS region. Empty means AWS_REGION (which Lambda always
	// sets); with a local endpoint and neither, us-east-1.
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

// Load returns the configuration from getenv (os.Getenv in main). It makes
// no network call. Credentials come from AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN; with a local endpoint and none
// in the environment, the static credentials "test"/"test" are used.
func Load(getenv func(string) string, o Options) (aws.Config, error) {
	local := o.DynamoDBEndpoint != "" || o.SecretsManagerEndpoint != ""
	cfg := aws.Config{
		Region:     o.Region,
		HTTPClient: NewHTTPClient(),
		Retryer:    NewRetryer,
		// Every call that fails is counted (metric StoreErrors).
		APIOptions: []func(*middleware.Stack) error{countErrors(metrics.Default())},
	}
	if cfg.Region == "" {
		cfg.Region = getenv("AWS_REGION")
	}
	if cfg.Region == "" {
		if !local {
			return aws.Config{}, errors.New("aws config: no region (set AWS_REGION)")
		}
		cfg.Region = localRegion
	}
	id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
	switch {
	case id != "" && secret != "":
		cfg.Credentials = aws.NewCredentialsCache(
			credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")))
	case local:
		cfg.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("test", "test", ""))
	default:
		return aws.Config{}, errors.New("aws config: no credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
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
// backoff capped at MaxBackoff.
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
