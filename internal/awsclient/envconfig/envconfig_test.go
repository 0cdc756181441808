package envconfig

import (
	"context"
	"testing"
	"time"
)

func TestHTTPClientTimeouts(t *testing.T) {
	c := NewHTTPClient()
	if got := c.GetDialer().Timeout; got != dialTimeout {
		t.Errorf("dial timeout = %v, want %v", got, dialTimeout)
	}
	tr := c.GetTransport()
	if tr.TLSHandshakeTimeout != tlsHandshakeTimeout {
		t.Errorf("TLS handshake timeout = %v, want %v", tr.TLSHandshakeTimeout, tlsHandshakeTimeout)
	}
	if tr.ResponseHeaderTimeout != responseHeaderTimeout {
		t.Errorf("response header timeout = %v, want %v", tr.ResponseHeaderTimeout, responseHeaderTimeout)
	}
	if got := c.GetTimeout(); got != requestTimeout || got > 30*time.Second {
		t.Errorf("request timeout = %v, want %v", got, requestTimeout)
	}
}

func TestLoad(t *testing.T) {
	local := Options{DynamoDBEndpoint: "http://127.0.0.1:8000"}
	tests := []struct {
		name    string
		env     map[string]string
		o       Options
		region  string
		key     string
		token   string
		wantErr bool
	}{
		{"Lambda's environment", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID",
			"AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "tok"}, Options{}, "eu-west-1", "AKID", "tok", false},
		{"the option's region first", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID",
			"AWS_SECRET_ACCESS_KEY": "s"}, Options{Region: "us-west-2"}, "us-west-2", "AKID", "", false},
		{"local stack, nothing set", nil, local, "us-east-1", "test", "", false},
		{"local stack keeps the environment's keys", map[string]string{"AWS_ACCESS_KEY_ID": "AKID",
			"AWS_SECRET_ACCESS_KEY": "s"}, local, "us-east-1", "AKID", "", false},
		{"no region in AWS", map[string]string{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s"},
			Options{}, "", "", "", true},
		{"no credentials in AWS", map[string]string{"AWS_REGION": "eu-west-1"}, Options{}, "", "", "", true},
		{"half the credentials", map[string]string{"AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKID"},
			Options{}, "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(func(k string) string { return tt.env[k] }, tt.o)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Load = %+v, want an error", cfg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Region != tt.region {
				t.Errorf("region = %q, want %q", cfg.Region, tt.region)
			}
			creds, err := cfg.Credentials.Retrieve(context.Background())
			if err != nil || creds.AccessKeyID != tt.key || creds.SessionToken != tt.token {
				t.Errorf("credentials = %q/%q, %v; want %q/%q", creds.AccessKeyID, creds.SessionToken, err, tt.key, tt.token)
			}
			if r := cfg.Retryer(); r.MaxAttempts() != MaxAttempts {
				t.Errorf("retryer attempts = %d, want %d", r.MaxAttempts(), MaxAttempts)
			}
			if cfg.HTTPClient == nil {
				t.Error("no HTTP client")
			}
		})
	}
}
