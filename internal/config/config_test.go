package config

import (
	"reflect"
	"strings"
	"testing"
)

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
