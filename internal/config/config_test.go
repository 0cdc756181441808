package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/key"
)

func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// ENVIRONMENT has no default: unset stays unset (the authorizer then needs
// the stage variable), and a value must be test or live.
func TestLoadEnvironment(t *testing.T) {
	tests := []struct {
		name    string
		value   string
		want    string
		wantErr bool
	}{
		{"unset", "", "", false},
		{"test", "test", "test", false},
		{"live", "live", "live", false},
		{"prod", "prod", "", true},
		{"capitals", "LIVE", "", true},
		{"padded", " test", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(env(map[string]string{"TABLE_NAME": "t", "ENVIRONMENT": tt.value}))
			if tt.wantErr {
				if err == nil || !strings.Contains(err.Error(), "ENVIRONMENT") {
					t.Fatalf("err = %v, want an ENVIRONMENT error", err)
				}
				return
			}
			if err != nil || c.Environment != tt.want {
				t.Fatalf("Environment = %q, %v; want %q", c.Environment, err, tt.want)
			}
		})
	}
}

func TestMaxKeysPerMerchant(t *testing.T) {
	cases := []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", 500, false},
		{"1", 1, false},
		{"20000", 20000, false},
		{"0", 0, true},
		{"-5", 0, true},
		{"many", 0, true},
		{"1000001", 0, true},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			env := map[string]string{"TABLE_NAME": "t", "MAX_KEYS_PER_MERCHANT": c.value}
			cfg, err := Load(func(k string) string { return env[k] })
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "MAX_KEYS_PER_MERCHANT") {
					t.Fatalf("err = %v, want one naming MAX_KEYS_PER_MERCHANT", err)
				}
				return
			}
			if err != nil || cfg.MaxKeysPerMerchant != c.want {
				t.Fatalf("MaxKeysPerMerchant = %d, %v; want %d", cfg.MaxKeysPerMerchant, err, c.want)
			}
		})
	}
}

func TestExtraScopes(t *testing.T) {
	cases := []struct {
		value   string
		want    []string
		wantErr string
	}{
		{"", []string{}, ""},
		{"refunds:create", []string{"refunds:create"}, ""},
		{" refunds:create, payouts:read;reports.daily:read ", []string{"refunds:create", "payouts:read", "reports.daily:read"}, ""},
		{"refunds:*", nil, "EXTRA_SCOPES"},
		{"*", nil, "EXTRA_SCOPES"},
		{"Refunds:Create", nil, "EXTRA_SCOPES"},
		{"refunds", nil, "EXTRA_SCOPES"},
	}
	for _, c := range cases {
		cfg, err := Load(func(k string) string {
			switch k {
			case "TABLE_NAME":
				return "t"
			case "EXTRA_SCOPES":
				return c.value
			}
			return ""
		})
		if c.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("EXTRA_SCOPES=%q: err = %v, want one naming %s", c.value, err, c.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(cfg.ExtraScopes, c.want) {
			t.Errorf("EXTRA_SCOPES=%q: %v, %v; want %v", c.value, cfg.ExtraScopes, err, c.want)
		}
	}
}

// WEBHOOK_ALLOW_PRIVATE: false by default, true for make dev, loopback for
// runs that must never leave the machine; anything else is refused.
func TestLoadWebhookAllowPrivate(t *testing.T) {
	tests := []struct {
		value                  string
		allowPrivate, loopback bool
		wantErr                bool
	}{
		{"", false, false, false},
		{"false", false, false, false},
		{"true", true, false, false},
		{"loopback", false, true, false},
		{"yes", false, false, true},
		{"LOOPBACK", false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.value, func(t *testing.T) {
			c, err := Load(env(map[string]string{"TABLE_NAME": "t", "WEBHOOK_ALLOW_PRIVATE": tt.value}))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (c.WebhookAllowPrivate != tt.allowPrivate || c.WebhookLoopbackOnly != tt.loopback) {
				t.Errorf("allow private %v, loopback only %v; want %v, %v", c.WebhookAllowPrivate, c.WebhookLoopbackOnly, tt.allowPrivate, tt.loopback)
			}
		})
	}
}

func TestBrand(t *testing.T) {
	cases := []struct {
		value   string
		want    key.Brand
		wantErr bool
	}{
		{"", key.DefaultBrand, false},
		{"acme", "acme", false},
		{"Acme", "", true},
		{"a", "", true},
		{"acme_pay", "", true},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			env := map[string]string{"TABLE_NAME": "t", "BRAND": c.value}
			cfg, err := Load(func(k string) string { return env[k] })
			if c.wantErr {
				if err == nil || !strings.Contains(err.Error(), "BRAND") {
					t.Fatalf("err = %v, want one naming BRAND", err)
				}
				return
			}
			if err != nil || cfg.Brand != c.want {
				t.Fatalf("Brand = %q, %v; want %q", cfg.Brand, err, c.want)
			}
		})
	}
}
