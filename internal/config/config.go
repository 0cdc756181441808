// Package config turns environment variables into a validated, typed Config.
// Only main packages call Load; everything else receives a Config.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/leakreport"
)

// Config is every setting the functions read.
type Config struct {
	TableName    string // TABLE_NAME (required)
	SecretPrefix string // SECRET_PREFIX, default "paykeys/"
	// SECRET_STORE: where new secrets go, "secretsmanager" (one secret per
	// key, the default) or "envelope" (AES-256-GCM ciphertexts in DynamoDB
	// under a KEK in Secrets Manager). The other store is still read, and
	// the lifecycle job moves what it holds (see package secret, Chain).
	SecretStore string
	// KEK_SECRET_NAME: the Secrets Manager secret holding the KEKs of the
	// envelope store's key secrets, default the prefix without its "/" plus
	// "-kek" (paykeys-kek), outside the prefix so no key's name can collide
	// with it. WEBHOOK_KEK_SECRET_NAME: those of webhook signing secrets,
	// default paykeys-webhooks-kek. Each kind of secret has KEKs of its own,
	// so a function given one kind cannot decrypt the other.
	KEKSecretName        string
	WebhookKEKSecretName string
	// SECRETS_KMS_KEY_ID: the KMS key new secrets are encrypted with; empty
	// for Secrets Manager's AWS-managed key.
	SecretsKMSKeyID string
	// KEK_ROTATION_DAYS: the lifecycle job makes new envelope store KEKs
	// once the current ones are this many days old; 0 (the default)
	// rotates only when an operator asks (see package rotate).
	KEKRotationDays        int
	Region                 string     // AWS_REGION, default us-east-1
	DynamoDBEndpoint       string     // DYNAMODB_ENDPOINT, local stack only
	SecretsManagerEndpoint string     // SECRETSMANAGER_ENDPOINT, local stack only
	LogLevel               slog.Level // LOG_LEVEL: debug, info, warn, error
	// ENVIRONMENT: the environment of the API behind the authorizer, test or
	// live. There is no default: unset, the authorizer takes it from the
	// stage variable environment, and refuses every request without one.
	Environment string
	CacheTTL    time.Duration // CACHE_TTL: authorizer key cache, default 5m, at most 1h; 0 turns it off
	CursorKey   []byte        // CURSOR_KEY: signs pagination cursors
	RouteScopes string        // ROUTE_SCOPES: "METHOD /path=scope;..." for the authorizer
	// EXTRA_SCOPES: resource:action scopes keys may be granted beside those
	// ROUTE_SCOPES requires, separated by spaces, commas or semicolons.
	ExtraScopes      []string
	PolicyForHTTPAPI bool // AUTHORIZER_RESPONSE=iam: answer HTTP API events with IAM policies
	// WEBHOOK_ALLOW_PRIVATE=true lets webhook endpoints be http and resolve
	// to private and loopback addresses: local development only.
	WebhookAllowPrivate bool
	// WEBHOOK_ALLOW_PRIVATE=loopback lets webhook endpoints be http on a
	// loopback address only, and nothing else: API fuzzing.
	WebhookLoopbackOnly bool
	// MAX_KEYS_PER_MERCHANT: the most keys that are not revoked a merchant
	// may have, default 500.
	MaxKeysPerMerchant int
	// BRAND: the prefix of every secret, <brand>_sk_<env>_..., 2..16
	// lowercase letters, default paykeys. Only secrets of this brand are
	// accepted, so changing it ends every secret issued before.
	Brand key.Brand
	// LEAK_REPORT_KEYS: the secret scanner's verification keys, a JSON
	// array of {"key_identifier", "key" (PEM)}; none: every leak report is
	// refused. LEAK_POLICY: what a leak report does to a live key, disable
	// (the default) or revoke.
	LeakReportKeys leakreport.Keys
	LeakPolicy     key.LeakPolicy
	// Portal is the merchant portal's sign-in (the portal function only).
	Portal Portal
}

// Portal configures the merchant portal's sign-in. In AWS it is the OIDC
// authorization code flow with PKCE against the deployment's issuer; make
// dev's gateway turns on its development sign-in instead.
type Portal struct {
	OIDCIssuer   string // PORTAL_OIDC_ISSUER: shown to the user
	ClientID     string // PORTAL_OIDC_CLIENT_ID: a public client (no secret)
	AuthorizeURL string // PORTAL_OIDC_AUTHORIZE_URL: the issuer's authorization endpoint
	TokenURL     string // PORTAL_OIDC_TOKEN_URL: the issuer's token endpoint
	Scopes       string // PORTAL_OIDC_SCOPES, default "openid"
	TokenType    string // PORTAL_OIDC_TOKEN: id_token or access_token (default), the token sent to the API
	DevSignIn    bool   // PORTAL_DEV_SIGNIN=true: make dev's development sign-in (the gateway's token endpoint)
}

// Load reads the configuration through getenv (os.Getenv in main).
func Load(getenv func(string) string) (Config, error) {
	c := Config{
		TableName:              getenv("TABLE_NAME"),
		SecretPrefix:           or(getenv("SECRET_PREFIX"), "paykeys/"),
		SecretsKMSKeyID:        getenv("SECRETS_KMS_KEY_ID"),
		Region:                 or(getenv("AWS_REGION"), "us-east-1"),
		DynamoDBEndpoint:       getenv("DYNAMODB_ENDPOINT"),
		SecretsManagerEndpoint: getenv("SECRETSMANAGER_ENDPOINT"),
		Environment:            getenv("ENVIRONMENT"),
		CursorKey:              []byte(getenv("CURSOR_KEY")),
		RouteScopes:            getenv("ROUTE_SCOPES"),
		SecretStore:            or(getenv("SECRET_STORE"), SecretStoreSecretsManager),
		KEKSecretName:          getenv("KEK_SECRET_NAME"),
		WebhookKEKSecretName:   getenv("WEBHOOK_KEK_SECRET_NAME"),
	}
	c.KEKSecretName = or(c.KEKSecretName, strings.TrimSuffix(c.SecretPrefix, "/")+"-kek")
	c.WebhookKEKSecretName = or(c.WebhookKEKSecretName, strings.TrimSuffix(c.SecretPrefix, "/")+"-webhooks-kek")
	var errs []error
	c.ExtraScopes = strings.FieldsFunc(getenv("EXTRA_SCOPES"), func(r rune) bool {
		return r == ' ' || r == ',' || r == ';' || r == '\t' || r == '\n'
	})
	if _, err := key.NewDeclaredScopes(c.ExtraScopes); err != nil {
		errs = append(errs, fmt.Errorf("EXTRA_SCOPES: %w", err))
	}
	if c.TableName == "" {
		errs = append(errs, errors.New("TABLE_NAME is required"))
	}
	if err := c.LogLevel.UnmarshalText([]byte(or(getenv("LOG_LEVEL"), "info"))); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	if c.Environment != "" && c.Environment != "test" && c.Environment != "live" {
		errs = append(errs, errors.New(`ENVIRONMENT must be "test", "live" or unset`))
	}
	ttl, err := duration(or(getenv("CACHE_TTL"), "5m"))
	if err != nil || ttl < 0 || ttl > time.Hour {
		errs = append(errs, errors.New("CACHE_TTL must be a duration from 0s to 1h (e.g. 5m)"))
	}
	c.CacheTTL = ttl
	switch resp := getenv("AUTHORIZER_RESPONSE"); resp {
	case "", "simple":
	case "iam":
		c.PolicyForHTTPAPI = true
	default:
		errs = append(errs, fmt.Errorf(`AUTHORIZER_RESPONSE must be "simple" or "iam", not %q`, resp))
	}
	switch v := getenv("WEBHOOK_ALLOW_PRIVATE"); v {
	case "", "false":
	case "true":
		c.WebhookAllowPrivate = true
	case "loopback":
		c.WebhookLoopbackOnly = true
	default:
		errs = append(errs, fmt.Errorf(`WEBHOOK_ALLOW_PRIVATE must be "true", "false" or "loopback", not %q`, v))
	}
	maxKeys, err := strconv.Atoi(or(getenv("MAX_KEYS_PER_MERCHANT"), "500"))
	if err != nil || maxKeys < 1 || maxKeys > 1_000_000 {
		errs = append(errs, errors.New("MAX_KEYS_PER_MERCHANT must be an integer from 1 to 1000000"))
	}
	c.MaxKeysPerMerchant = maxKeys
	kekDays, err := strconv.Atoi(or(getenv("KEK_ROTATION_DAYS"), "0"))
	if err != nil || kekDays < 0 || kekDays > 3650 {
		errs = append(errs, errors.New("KEK_ROTATION_DAYS must be an integer from 0 (only on request) to 3650"))
	}
	c.KEKRotationDays = kekDays
	if c.Brand, err = key.ParseBrand(getenv("BRAND")); err != nil {
		errs = append(errs, fmt.Errorf("BRAND: %w", err))
	}
	if c.LeakReportKeys, err = leakreport.ParseKeys(getenv("LEAK_REPORT_KEYS")); err != nil {
		errs = append(errs, fmt.Errorf("LEAK_REPORT_KEYS: %w", err))
	}
	if c.LeakPolicy, err = key.ParseLeakPolicy(getenv("LEAK_POLICY")); err != nil {
		errs = append(errs, fmt.Errorf("LEAK_POLICY: %w", err))
	}
	if !strings.HasSuffix(c.SecretPrefix, "/") {
		errs = append(errs, errors.New(`SECRET_PREFIX must end with "/"`))
	}
	// A KEK among the secrets of a folder would be listed with them: the
	// lifecycle job's upkeep would move it into the envelope store, sealed
	// under itself, and delete it from Secrets Manager.
	keys, hooks := c.SecretPrefix+SecretFolders[0], c.SecretPrefix+SecretFolders[1]
	for _, k := range []struct{ env, name string }{{"KEK_SECRET_NAME", c.KEKSecretName}, {"WEBHOOK_KEK_SECRET_NAME", c.WebhookKEKSecretName}} {
		if strings.HasPrefix(k.name, keys) || strings.HasPrefix(k.name, hooks) {
			errs = append(errs, fmt.Errorf("%s must not be under %q or %q, where the secrets it seals live", k.env, keys, hooks))
		}
	}
	if c.SecretStore != SecretStoreSecretsManager && c.SecretStore != SecretStoreEnvelope {
		errs = append(errs, fmt.Errorf(`SECRET_STORE must be %q or %q, not %q`, SecretStoreSecretsManager, SecretStoreEnvelope, c.SecretStore))
	}
	c.Portal, err = loadPortal(getenv)
	if err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

// SecretFolders are the folders of SECRET_PREFIX that hold key secrets and
// webhook signing secrets: secret.KeysDir and secret.WebhooksDir, which a
// test in package app holds them to (this package links no secret store).
var SecretFolders = [2]string{"keys/", "webhooks/"}

// The values of SECRET_STORE.
const (
	SecretStoreSecretsManager = "secretsmanager"
	SecretStoreEnvelope       = "envelope"
)

func loadPortal(getenv func(string) string) (Portal, error) {
	p := Portal{
		OIDCIssuer:   getenv("PORTAL_OIDC_ISSUER"),
		ClientID:     getenv("PORTAL_OIDC_CLIENT_ID"),
		AuthorizeURL: getenv("PORTAL_OIDC_AUTHORIZE_URL"),
		TokenURL:     getenv("PORTAL_OIDC_TOKEN_URL"),
		Scopes:       or(getenv("PORTAL_OIDC_SCOPES"), "openid"),
		TokenType:    or(getenv("PORTAL_OIDC_TOKEN"), "access_token"),
	}
	var errs []error
	switch v := getenv("PORTAL_DEV_SIGNIN"); v {
	case "", "false":
	case "true":
		p.DevSignIn = true
	default:
		errs = append(errs, fmt.Errorf("PORTAL_DEV_SIGNIN must be true or false, not %q", v))
	}
	if p.TokenType != "access_token" && p.TokenType != "id_token" {
		errs = append(errs, errors.New("PORTAL_OIDC_TOKEN must be id_token or access_token"))
	}
	for name, u := range map[string]string{"PORTAL_OIDC_AUTHORIZE_URL": p.AuthorizeURL, "PORTAL_OIDC_TOKEN_URL": p.TokenURL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !loopbackHTTP(u) {
			errs = append(errs, fmt.Errorf("%s must be an https URL (or http on 127.0.0.1, for tests)", name))
		}
	}
	return p, errors.Join(errs...)
}

// loopbackHTTP says whether u is an http URL on 127.0.0.1, which a local
// test issuer serves.
func loopbackHTTP(u string) bool {
	rest, ok := strings.CutPrefix(u, "http://127.0.0.1")
	return ok && (rest == "" || rest[0] == ':' || rest[0] == '/')
}

// duration accepts Go durations and plain seconds.
func duration(s string) (time.Duration, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	return time.ParseDuration(s)
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// DeclaredScopes are the scopes keys may be granted: those the routes of
// ROUTE_SCOPES require and those EXTRA_SCOPES lists.
func (c Config) DeclaredScopes() (key.DeclaredScopes, error) {
	routes, err := key.ParseRoutes(c.RouteScopes)
	if err != nil {
		return key.DeclaredScopes{}, fmt.Errorf("ROUTE_SCOPES: %w", err)
	}
	d, err := key.NewDeclaredScopes(append(routes.Scopes(), c.ExtraScopes...))
	if err != nil {
		return key.DeclaredScopes{}, fmt.Errorf("EXTRA_SCOPES: %w", err)
	}
	return d, nil
}
