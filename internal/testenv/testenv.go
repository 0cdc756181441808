// Package testenv gives tests clients for the local stack that `make test`
// starts (DynamoDB Local and a local Secrets Manager), and unique names so
// tests sharing that stack do not collide.
//
// Only _test.go files import it. A test that needs the stack and does not find
// it fails: it is never skipped, so a green run means the stack was there.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/awsclient"
)

// Environment variables naming the local stack's endpoints.
const (
	DynamoDBEndpointEnv       = "DYNAMODB_ENDPOINT"
	SecretsManagerEndpointEnv = "SECRETSMANAGER_ENDPOINT"
)

// Region is the region every local client uses.
const Region = "us-east-1"

// MaxNameLen bounds UniqueName's result: within DynamoDB's table name limit
// (255) and leaving room in a secret name (512) for the client ID after it.
const MaxNameLen = 200

// Dynamo returns a DynamoDB client for the endpoint in DYNAMODB_ENDPOINT. It
// fails the test when the variable is unset or nothing listens there.
func Dynamo(t testing.TB) *dynamodb.Client {
	t.Helper()
	return awsclient.DynamoDB(config(), endpoint(t, DynamoDBEndpointEnv))
}

// Secrets returns a Secrets Manager client for the endpoint in
// SECRETSMANAGER_ENDPOINT. It fails the test when the variable is unset or
// nothing listens there.
func Secrets(t testing.TB) *secretsmanager.Client {
	t.Helper()
	return awsclient.SecretsManager(config(), endpoint(t, SecretsManagerEndpointEnv))
}

// Config returns the SDK configuration local clients share: region us-east-1,
// static credentials test/test and the project's retry and HTTP settings.
func Config() aws.Config { return config() }

func config() aws.Config {
	return aws.Config{
		Region:      Region,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		Retryer:     awsclient.NewRetryer,
		HTTPClient:  awsclient.NewHTTPClient(),
	}
}

// reachable remembers endpoints already dialled, so each is checked once per
// test binary.
var reachable sync.Map // endpoint -> struct{}

func endpoint(t testing.TB, env string) string {
	t.Helper()
	ep := os.Getenv(env)
	if ep == "" {
		t.Fatalf("%s is not set: this test needs the local stack; run it with `make test`", env)
	}
	if _, ok := reachable.Load(ep); ok {
		return ep
	}
	u, err := url.Parse(ep)
	if err != nil || u.Host == "" {
		t.Fatalf("%s=%q is not a URL such as http://127.0.0.1:8000; run the tests with `make test`", env, ep)
	}
	host := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		t.Fatalf("%s=%s: nothing answers there (%v); start the local stack with `make test`", env, ep, err)
	}
	conn.Close()
	reachable.Store(ep, struct{}{})
	return ep
}

// UniqueName returns prefix, the test's name and a random suffix, made of
// the characters a DynamoDB table name allows ([A-Za-z0-9_.-]), which a
// secret name allows too; anything else, in prefix as well, becomes '-'. It
// is at most MaxNameLen characters long; the test name is shortened to fit.
// Append "/" to use it as a secret name prefix.
func UniqueName(t testing.TB, prefix string) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("random name suffix: %v", err)
	}
	suffix := "-" + hex.EncodeToString(b[:])
	prefix = sanitize(prefix)
	if len(prefix) > MaxNameLen-len(suffix) {
		prefix = prefix[:MaxNameLen-len(suffix)]
	}
	name := sanitize(t.Name())
	if room := MaxNameLen - len(prefix) - len(suffix); len(name) > room {
		name = name[:room]
	}
	return prefix + name + suffix
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		default:
			return '-'
		}
	}, s)
}

// Context returns a context bounded to a minute, so a hung local stack fails
// the test instead of the whole run. Unlike t.Context it is still live in
// cleanups registered after this call (cleanups run last-in, first-out).
func Context(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}
