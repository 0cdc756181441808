package config

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
)

// load runs Load on vars beside TABLE_NAME=t (unless vars sets it).
func load(vars map[string]string) (Config, error) {
	return Load(func(name string) string {
		if v, ok := vars[name]; ok {
			return v
		}
		if name == "TABLE_NAME" {
			return "t"
		}
		return ""
	})
}

// leakKeys returns a LEAK_REPORT_KEYS value with one P-256 key.
func leakKeys(t *testing.T, id string) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	v, _ := json.Marshal([]map[string]string{{"key_identifier": id,
		"key": string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}})
	return string(v)
}

// Every setting: its default when unset, the values it takes, and an error
// naming the variable for each value it refuses.
func TestEverySetting(t *testing.T) {
	keys := leakKeys(t, "scanner-1")
	type got = func(Config) any
	cases := []struct {
		name    string
		vars    map[string]string
		got     got
		want    any
		wantErr string // the error names this; "" for none
	}{
		{"TABLE_NAME required", map[string]string{"TABLE_NAME": ""}, nil, nil, "TABLE_NAME is required"},
		{"TABLE_NAME", map[string]string{"TABLE_NAME": "paykeys-prod"}, func(c Config) any { return c.TableName }, "paykeys-prod", ""},

		{"SECRET_PREFIX default", nil, func(c Config) any { return c.SecretPrefix }, "paykeys/", ""},
		{"SECRET_PREFIX", map[string]string{"SECRET_PREFIX": "acme/keys/"}, func(c Config) any { return c.SecretPrefix }, "acme/keys/", ""},
		{"SECRET_PREFIX without slash", map[string]string{"SECRET_PREFIX": "acme"}, nil, nil, `SECRET_PREFIX must end with "/"`},

		{"SECRET_STORE default", nil, func(c Config) any { return c.SecretStore }, SecretStoreSecretsManager, ""},
		{"SECRET_STORE envelope", map[string]string{"SECRET_STORE": "envelope"}, func(c Config) any { return c.SecretStore }, SecretStoreEnvelope, ""},
		{"SECRET_STORE other", map[string]string{"SECRET_STORE": "vault"}, nil, nil, `SECRET_STORE must be "secretsmanager" or "envelope", not "vault"`},

		{"KEK_SECRET_NAME default", nil, func(c Config) any { return c.KEKSecretName }, "paykeys-kek", ""},
		{"KEK_SECRET_NAME from the prefix", map[string]string{"SECRET_PREFIX": "acme/"}, func(c Config) any { return c.KEKSecretName }, "acme-kek", ""},
		{"KEK_SECRET_NAME", map[string]string{"KEK_SECRET_NAME": "ops/kek"}, func(c Config) any { return c.KEKSecretName }, "ops/kek", ""},

		// A KEK among the secrets it seals would be moved into the envelope
		// store, sealed under itself, and deleted, by the lifecycle job's
		// upkeep of a store switch.
		{"KEK_SECRET_NAME among key secrets", map[string]string{"KEK_SECRET_NAME": "paykeys/keys/kek"}, nil, nil,
			`KEK_SECRET_NAME must not be under "paykeys/keys/" or "paykeys/webhooks/", where the secrets it seals live`},
		{"WEBHOOK_KEK_SECRET_NAME among signing secrets", map[string]string{"SECRET_PREFIX": "acme/", "WEBHOOK_KEK_SECRET_NAME": "acme/webhooks/kek"}, nil, nil,
			`WEBHOOK_KEK_SECRET_NAME must not be under "acme/keys/" or "acme/webhooks/", where the secrets it seals live`},
		{"KEK_SECRET_NAME beside the folders", map[string]string{"KEK_SECRET_NAME": "paykeys/kek"}, func(c Config) any { return c.KEKSecretName }, "paykeys/kek", ""},

		{"WEBHOOK_KEK_SECRET_NAME default", nil, func(c Config) any { return c.WebhookKEKSecretName }, "paykeys-webhooks-kek", ""},
		{"WEBHOOK_KEK_SECRET_NAME from the prefix", map[string]string{"SECRET_PREFIX": "acme/"},
			func(c Config) any { return c.WebhookKEKSecretName }, "acme-webhooks-kek", ""},
		{"WEBHOOK_KEK_SECRET_NAME", map[string]string{"WEBHOOK_KEK_SECRET_NAME": "ops/hooks-kek"},
			func(c Config) any { return c.WebhookKEKSecretName }, "ops/hooks-kek", ""},
		{"SECRETS_KMS_KEY_ID default", nil, func(c Config) any { return c.SecretsKMSKeyID }, "", ""},
		{"SECRETS_KMS_KEY_ID", map[string]string{"SECRETS_KMS_KEY_ID": "alias/paykeys"},
			func(c Config) any { return c.SecretsKMSKeyID }, "alias/paykeys", ""},

		{"AWS_REGION default", nil, func(c Config) any { return c.Region }, "us-east-1", ""},
		{"AWS_REGION", map[string]string{"AWS_REGION": "eu-west-1"}, func(c Config) any { return c.Region }, "eu-west-1", ""},
		{"endpoints default", nil, func(c Config) any { return c.DynamoDBEndpoint + c.SecretsManagerEndpoint }, "", ""},
		{"DYNAMODB_ENDPOINT", map[string]string{"DYNAMODB_ENDPOINT": "http://127.0.0.1:8000"},
			func(c Config) any { return c.DynamoDBEndpoint }, "http://127.0.0.1:8000", ""},
		{"SECRETSMANAGER_ENDPOINT", map[string]string{"SECRETSMANAGER_ENDPOINT": "http://127.0.0.1:5000"},
			func(c Config) any { return c.SecretsManagerEndpoint }, "http://127.0.0.1:5000", ""},

		{"LOG_LEVEL default", nil, func(c Config) any { return c.LogLevel }, slog.LevelInfo, ""},
		{"LOG_LEVEL debug", map[string]string{"LOG_LEVEL": "debug"}, func(c Config) any { return c.LogLevel }, slog.LevelDebug, ""},
		{"LOG_LEVEL WARN", map[string]string{"LOG_LEVEL": "WARN"}, func(c Config) any { return c.LogLevel }, slog.LevelWarn, ""},
		{"LOG_LEVEL error", map[string]string{"LOG_LEVEL": "error"}, func(c Config) any { return c.LogLevel }, slog.LevelError, ""},
		{"LOG_LEVEL loud", map[string]string{"LOG_LEVEL": "loud"}, nil, nil, "LOG_LEVEL"},

		{"ENVIRONMENT unset", nil, func(c Config) any { return c.Environment }, "", ""},
		{"ENVIRONMENT test", map[string]string{"ENVIRONMENT": "test"}, func(c Config) any { return c.Environment }, "test", ""},
		{"ENVIRONMENT live", map[string]string{"ENVIRONMENT": "live"}, func(c Config) any { return c.Environment }, "live", ""},
		{"ENVIRONMENT prod", map[string]string{"ENVIRONMENT": "prod"}, nil, nil, `ENVIRONMENT must be "test", "live" or unset`},
		{"ENVIRONMENT capitals", map[string]string{"ENVIRONMENT": "LIVE"}, nil, nil, "ENVIRONMENT"},
		{"ENVIRONMENT padded", map[string]string{"ENVIRONMENT": " test"}, nil, nil, "ENVIRONMENT"},

		{"CACHE_TTL default", nil, func(c Config) any { return c.CacheTTL }, 5 * time.Minute, ""},
		{"CACHE_TTL off", map[string]string{"CACHE_TTL": "0"}, func(c Config) any { return c.CacheTTL }, time.Duration(0), ""},
		{"CACHE_TTL seconds", map[string]string{"CACHE_TTL": "30"}, func(c Config) any { return c.CacheTTL }, 30 * time.Second, ""},
		{"CACHE_TTL duration", map[string]string{"CACHE_TTL": "90s"}, func(c Config) any { return c.CacheTTL }, 90 * time.Second, ""},
		{"CACHE_TTL at most", map[string]string{"CACHE_TTL": "1h"}, func(c Config) any { return c.CacheTTL }, time.Hour, ""},
		{"CACHE_TTL too long", map[string]string{"CACHE_TTL": "61m"}, nil, nil, "CACHE_TTL must be a duration from 0s to 1h"},
		{"CACHE_TTL negative", map[string]string{"CACHE_TTL": "-1s"}, nil, nil, "CACHE_TTL"},
		{"CACHE_TTL words", map[string]string{"CACHE_TTL": "soon"}, nil, nil, "CACHE_TTL"},

		{"CURSOR_KEY", map[string]string{"CURSOR_KEY": "k1"}, func(c Config) any { return c.CursorKey }, []byte("k1"), ""},
		{"ROUTE_SCOPES", map[string]string{"ROUTE_SCOPES": "GET /demo=demo:read"},
			func(c Config) any { return c.RouteScopes }, "GET /demo=demo:read", ""},

		{"EXTRA_SCOPES default", nil, func(c Config) any { return c.ExtraScopes }, []string{}, ""},
		{"EXTRA_SCOPES one", map[string]string{"EXTRA_SCOPES": "refunds:create"},
			func(c Config) any { return c.ExtraScopes }, []string{"refunds:create"}, ""},
		{"EXTRA_SCOPES separators", map[string]string{"EXTRA_SCOPES": " refunds:create, payouts:read;reports.daily:read\n\ta:b "},
			func(c Config) any { return c.ExtraScopes }, []string{"refunds:create", "payouts:read", "reports.daily:read", "a:b"}, ""},
		{"EXTRA_SCOPES wildcard", map[string]string{"EXTRA_SCOPES": "refunds:*"}, nil, nil, "EXTRA_SCOPES"},
		{"EXTRA_SCOPES star", map[string]string{"EXTRA_SCOPES": "*"}, nil, nil, "EXTRA_SCOPES"},
		{"EXTRA_SCOPES capitals", map[string]string{"EXTRA_SCOPES": "Refunds:Create"}, nil, nil, "EXTRA_SCOPES"},
		{"EXTRA_SCOPES no action", map[string]string{"EXTRA_SCOPES": "refunds"}, nil, nil, "EXTRA_SCOPES"},

		{"AUTHORIZER_RESPONSE default", nil, func(c Config) any { return c.PolicyForHTTPAPI }, false, ""},
		{"AUTHORIZER_RESPONSE simple", map[string]string{"AUTHORIZER_RESPONSE": "simple"}, func(c Config) any { return c.PolicyForHTTPAPI }, false, ""},
		{"AUTHORIZER_RESPONSE iam", map[string]string{"AUTHORIZER_RESPONSE": "iam"}, func(c Config) any { return c.PolicyForHTTPAPI }, true, ""},
		{"AUTHORIZER_RESPONSE other", map[string]string{"AUTHORIZER_RESPONSE": "IAM"}, nil, nil, `AUTHORIZER_RESPONSE must be "simple" or "iam", not "IAM"`},

		{"WEBHOOK_ALLOW_PRIVATE default", nil, func(c Config) any { return [2]bool{c.WebhookAllowPrivate, c.WebhookLoopbackOnly} }, [2]bool{}, ""},
		{"WEBHOOK_ALLOW_PRIVATE false", map[string]string{"WEBHOOK_ALLOW_PRIVATE": "false"},
			func(c Config) any { return [2]bool{c.WebhookAllowPrivate, c.WebhookLoopbackOnly} }, [2]bool{}, ""},
		{"WEBHOOK_ALLOW_PRIVATE true", map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true"},
			func(c Config) any { return [2]bool{c.WebhookAllowPrivate, c.WebhookLoopbackOnly} }, [2]bool{true, false}, ""},
		{"WEBHOOK_ALLOW_PRIVATE loopback", map[string]string{"WEBHOOK_ALLOW_PRIVATE": "loopback"},
			func(c Config) any { return [2]bool{c.WebhookAllowPrivate, c.WebhookLoopbackOnly} }, [2]bool{false, true}, ""},
		{"WEBHOOK_ALLOW_PRIVATE yes", map[string]string{"WEBHOOK_ALLOW_PRIVATE": "yes"}, nil, nil,
			`WEBHOOK_ALLOW_PRIVATE must be "true", "false" or "loopback", not "yes"`},
		{"WEBHOOK_ALLOW_PRIVATE capitals", map[string]string{"WEBHOOK_ALLOW_PRIVATE": "LOOPBACK"}, nil, nil, "WEBHOOK_ALLOW_PRIVATE"},

		{"MAX_KEYS_PER_MERCHANT default", nil, func(c Config) any { return c.MaxKeysPerMerchant }, 500, ""},
		{"MAX_KEYS_PER_MERCHANT 1", map[string]string{"MAX_KEYS_PER_MERCHANT": "1"}, func(c Config) any { return c.MaxKeysPerMerchant }, 1, ""},
		{"MAX_KEYS_PER_MERCHANT most", map[string]string{"MAX_KEYS_PER_MERCHANT": "1000000"}, func(c Config) any { return c.MaxKeysPerMerchant }, 1_000_000, ""},
		{"MAX_KEYS_PER_MERCHANT 0", map[string]string{"MAX_KEYS_PER_MERCHANT": "0"}, nil, nil, "MAX_KEYS_PER_MERCHANT must be an integer from 1 to 1000000"},
		{"MAX_KEYS_PER_MERCHANT negative", map[string]string{"MAX_KEYS_PER_MERCHANT": "-5"}, nil, nil, "MAX_KEYS_PER_MERCHANT"},
		{"MAX_KEYS_PER_MERCHANT words", map[string]string{"MAX_KEYS_PER_MERCHANT": "many"}, nil, nil, "MAX_KEYS_PER_MERCHANT"},
		{"MAX_KEYS_PER_MERCHANT too many", map[string]string{"MAX_KEYS_PER_MERCHANT": "1000001"}, nil, nil, "MAX_KEYS_PER_MERCHANT"},

		{"KEK_ROTATION_DAYS default", nil, func(c Config) any { return c.KEKRotationDays }, 0, ""},
		{"KEK_ROTATION_DAYS", map[string]string{"KEK_ROTATION_DAYS": "90"}, func(c Config) any { return c.KEKRotationDays }, 90, ""},
		{"KEK_ROTATION_DAYS most", map[string]string{"KEK_ROTATION_DAYS": "3650"}, func(c Config) any { return c.KEKRotationDays }, 3650, ""},
		{"KEK_ROTATION_DAYS negative", map[string]string{"KEK_ROTATION_DAYS": "-1"}, nil, nil,
			"KEK_ROTATION_DAYS must be an integer from 0 (only on request) to 3650"},
		{"KEK_ROTATION_DAYS too many", map[string]string{"KEK_ROTATION_DAYS": "3651"}, nil, nil, "KEK_ROTATION_DAYS"},
		{"KEK_ROTATION_DAYS words", map[string]string{"KEK_ROTATION_DAYS": "quarterly"}, nil, nil, "KEK_ROTATION_DAYS"},

		{"BRAND default", nil, func(c Config) any { return c.Brand }, key.DefaultBrand, ""},
		{"BRAND", map[string]string{"BRAND": "acme"}, func(c Config) any { return c.Brand }, key.Brand("acme"), ""},
		{"BRAND capitals", map[string]string{"BRAND": "Acme"}, nil, nil, "BRAND"},
		{"BRAND too short", map[string]string{"BRAND": "a"}, nil, nil, "BRAND"},
		{"BRAND underscore", map[string]string{"BRAND": "acme_pay"}, nil, nil, "BRAND"},

		{"LEAK_REPORT_KEYS default", nil, func(c Config) any { return len(c.LeakReportKeys) }, 0, ""},
		{"LEAK_REPORT_KEYS", map[string]string{"LEAK_REPORT_KEYS": keys},
			func(c Config) any { return c.LeakReportKeys["scanner-1"] != nil }, true, ""},
		{"LEAK_REPORT_KEYS not JSON", map[string]string{"LEAK_REPORT_KEYS": "scanner-1=pem"}, nil, nil, "LEAK_REPORT_KEYS: must be a JSON array"},
		{"LEAK_REPORT_KEYS no identifier", map[string]string{"LEAK_REPORT_KEYS": `[{"key":"x"}]`}, nil, nil, "LEAK_REPORT_KEYS: entry 0 has no key_identifier"},
		{"LEAK_REPORT_KEYS bad key", map[string]string{"LEAK_REPORT_KEYS": `[{"key_identifier":"a","key":"x"}]`}, nil, nil, `LEAK_REPORT_KEYS: key "a"`},

		{"LEAK_POLICY default", nil, func(c Config) any { return c.LeakPolicy }, key.LeakDisable, ""},
		{"LEAK_POLICY revoke", map[string]string{"LEAK_POLICY": "revoke"}, func(c Config) any { return c.LeakPolicy }, key.LeakRevoke, ""},
		{"LEAK_POLICY other", map[string]string{"LEAK_POLICY": "delete"}, nil, nil, `LEAK_POLICY: must be "disable" or "revoke", not "delete"`},

		{"PORTAL defaults", nil, func(c Config) any { return c.Portal }, Portal{Scopes: "openid", TokenType: "access_token"}, ""},
		{"PORTAL settings", map[string]string{
			"PORTAL_OIDC_ISSUER": "https://auth.example.com/", "PORTAL_OIDC_CLIENT_ID": "portal",
			"PORTAL_OIDC_AUTHORIZE_URL": "https://auth.example.com/authorize", "PORTAL_OIDC_TOKEN_URL": "http://127.0.0.1:9000/token",
			"PORTAL_OIDC_SCOPES": "openid email", "PORTAL_OIDC_TOKEN": "id_token", "PORTAL_DEV_SIGNIN": "true",
		}, func(c Config) any { return c.Portal }, Portal{
			OIDCIssuer: "https://auth.example.com/", ClientID: "portal", AuthorizeURL: "https://auth.example.com/authorize",
			TokenURL: "http://127.0.0.1:9000/token", Scopes: "openid email", TokenType: "id_token", DevSignIn: true,
		}, ""},
		{"PORTAL_DEV_SIGNIN false", map[string]string{"PORTAL_DEV_SIGNIN": "false"}, func(c Config) any { return c.Portal.DevSignIn }, false, ""},
		{"PORTAL_DEV_SIGNIN yes", map[string]string{"PORTAL_DEV_SIGNIN": "yes"}, nil, nil, `PORTAL_DEV_SIGNIN must be true or false, not "yes"`},
		{"PORTAL_OIDC_TOKEN other", map[string]string{"PORTAL_OIDC_TOKEN": "refresh_token"}, nil, nil, "PORTAL_OIDC_TOKEN must be id_token or access_token"},
		{"PORTAL_OIDC_AUTHORIZE_URL http", map[string]string{"PORTAL_OIDC_AUTHORIZE_URL": "http://auth.example.com/authorize"}, nil, nil,
			"PORTAL_OIDC_AUTHORIZE_URL must be an https URL"},
		{"PORTAL_OIDC_TOKEN_URL look-alike loopback", map[string]string{"PORTAL_OIDC_TOKEN_URL": "http://127.0.0.1.example.com/token"}, nil, nil,
			"PORTAL_OIDC_TOKEN_URL must be an https URL"},
		{"PORTAL_OIDC_TOKEN_URL loopback", map[string]string{"PORTAL_OIDC_TOKEN_URL": "http://127.0.0.1"},
			func(c Config) any { return c.Portal.TokenURL }, "http://127.0.0.1", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := load(c.vars)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("err = %v", err)
			}
			if v := c.got(cfg); !reflect.DeepEqual(v, c.want) {
				t.Fatalf("got %#v, want %#v", v, c.want)
			}
		})
	}
}

// Every bad setting is reported at once, each naming its variable, so one
// failed deployment shows everything there is to fix.
func TestEveryErrorIsReported(t *testing.T) {
	_, err := load(map[string]string{
		"TABLE_NAME": "", "LOG_LEVEL": "loud", "CACHE_TTL": "2h", "BRAND": "A", "SECRET_STORE": "vault", "PORTAL_OIDC_TOKEN": "x",
	})
	if err == nil {
		t.Fatal("no error")
	}
	for _, name := range []string{"TABLE_NAME", "LOG_LEVEL", "CACHE_TTL", "BRAND", "SECRET_STORE", "PORTAL_OIDC_TOKEN"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("the error does not name %s: %v", name, err)
		}
	}
}

// The declared scopes are those ROUTE_SCOPES requires and those
// EXTRA_SCOPES lists; a bad ROUTE_SCOPES is an error naming it.
func TestDeclaredScopes(t *testing.T) {
	cfg, err := load(map[string]string{"ROUTE_SCOPES": "GET /demo=demo:read;POST /demo=demo:write", "EXTRA_SCOPES": "refunds:create"})
	if err != nil {
		t.Fatal(err)
	}
	d, err := cfg.DeclaredScopes()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"demo:read", "demo:write", "refunds:create"} {
		if err := d.Check([]string{s}); err != nil {
			t.Errorf("%s not declared: %v", s, err)
		}
	}
	if err := d.Check([]string{"payouts:read"}); err == nil {
		t.Error("an undeclared scope passed")
	}
	cfg.RouteScopes = "GET /demo"
	if _, err := cfg.DeclaredScopes(); err == nil || !strings.Contains(err.Error(), "ROUTE_SCOPES") {
		t.Errorf("bad ROUTE_SCOPES: %v", err)
	}
}
