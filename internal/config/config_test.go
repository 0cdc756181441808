package config

import (
	"strings"
	"testing"
)

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
