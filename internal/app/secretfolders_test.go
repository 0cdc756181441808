package app_test

import (
	"testing"

	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/secret"
)

// The configuration refuses a KEK secret inside the folders the secret
// stores use, so it must know them as package secret names them.
func TestConfigKnowsTheSecretFolders(t *testing.T) {
	if config.SecretFolders != [2]string{secret.KeysDir, secret.WebhooksDir} {
		t.Fatalf("config.SecretFolders %q, want secret.KeysDir and secret.WebhooksDir (%q, %q)",
			config.SecretFolders, secret.KeysDir, secret.WebhooksDir)
	}
}
