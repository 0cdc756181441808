package awsclient

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// isolate clears every variable the SDK reads credentials or a region from,
// so the tests see neither the developer's nor the CI's AWS setup.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_ENDPOINT_URL",
		"AWS_ENDPOINT_URL_DYNAMODB", "AWS_ENDPOINT_URL_SECRETS_MANAGER",
	} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

func TestLoad(t *testing.T) {
	tests := []struct {
		name       string
		opts       Options
		env        map[string]string
		wantRegion string
		wantStatic bool // credentials are the local "test"/"test" pair
		wantErr    bool
	}{
		{
			name:       "local endpoints, no credentials: static test credentials and us-east-1",
			opts:       Options{DynamoDBEndpoint: "http://127.0.0.1:8000", SecretsManagerEndpoint: "http://127.0.0.1:5000"},
			wantRegion: "us-east-1",
			wantStatic: true,
		},
		{
			name:       "one local endpoint is enough",
			opts:       Options{Region: "eu-west-1", SecretsManagerEndpoint: "http://127.0.0.1:5000"},
			wantRegion: "eu-west-1",
			wantStatic: true,
		},
		{
			name:       "local endpoint with credentials in the environment keeps them",
			opts:       Options{DynamoDBEndpoint: "http://127.0.0.1:8000"},
			env:        map[string]string{"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example", "AWS_REGION": "eu-central-1"},
			wantRegion: "eu-central-1",
		},
		{
			name:       "AWS: region from the environment",
			opts:       Options{},
			env:        map[string]string{"AWS_REGION": "us-west-2"},
			wantRegion: "us-west-2",
		},
		{
			name:       "AWS: explicit region wins",
			opts:       Options{Region: "ap-south-1"},
			env:        map[string]string{"AWS_REGION": "us-west-2"},
			wantRegion: "ap-south-1",
		},
		{
			name:    "AWS without any region is an error",
			opts:    Options{},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			isolate(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := Load(context.Background(), tt.opts)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("Load: got nil error, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if cfg.Region != tt.wantRegion {
				t.Errorf("Region = %q, want %q", cfg.Region, tt.wantRegion)
			}
			if cfg.Retryer == nil || cfg.Retryer().MaxAttempts() != MaxAttempts {
				t.Errorf("retryer does not make %d attempts", MaxAttempts)
			}
			if cfg.HTTPClient == nil {
				t.Errorf("HTTPClient is nil")
			}
			if tt.wantStatic {
				creds, err := cfg.Credentials.Retrieve(context.Background())
				if err != nil {
					t.Fatalf("Retrieve: %v", err)
				}
				if creds.AccessKeyID != "test" || creds.SecretAccessKey != "test" {
					t.Errorf("credentials = %q/%q, want test/test", creds.AccessKeyID, creds.SecretAccessKey)
				}
			}
		})
	}
}

func TestEnvCredentialsAreKept(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "example")
	cfg, err := Load(context.Background(), Options{DynamoDBEndpoint: "http://127.0.0.1:8000"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	creds, err := cfg.Credentials.Retrieve(context.Background())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if creds.AccessKeyID != "AKIDEXAMPLE" {
		t.Errorf("AccessKeyID = %q, want the one from the environment", creds.AccessKeyID)
	}
}

func TestDynamoDB(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}

	local := DynamoDB(cfg, "http://127.0.0.1:8000").Options()
	if got := aws.ToString(local.BaseEndpoint); got != "http://127.0.0.1:8000" {
		t.Errorf("local BaseEndpoint = %q", got)
	}
	if !local.DisableValidateResponseChecksum {
		t.Errorf("local client validates response checksums; DynamoDB Local's fail")
	}

	remote := DynamoDB(cfg, "").Options()
	if remote.BaseEndpoint != nil {
		t.Errorf("AWS BaseEndpoint = %q, want unset", *remote.BaseEndpoint)
	}
	if remote.DisableValidateResponseChecksum {
		t.Errorf("AWS client skips response checksum validation")
	}
}

func TestSecretsManager(t *testing.T) {
	cfg := aws.Config{Region: "us-east-1"}
	if got := aws.ToString(SecretsManager(cfg, "http://127.0.0.1:5000").Options().BaseEndpoint); got != "http://127.0.0.1:5000" {
		t.Errorf("local BaseEndpoint = %q", got)
	}
	if ep := SecretsManager(cfg, "").Options().BaseEndpoint; ep != nil {
		t.Errorf("AWS BaseEndpoint = %q, want unset", *ep)
	}
}
