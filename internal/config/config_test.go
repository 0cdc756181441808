package config

import (
	"strings"
	"testing"
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
