package key

import (
	"regexp"
	"slices"
	"strings"
)

// secretShape matches anything shaped like a secret, wherever it appears in a
// string: key secrets with or without a brand prefix (sk_test_…,
// paykeys_sk_live_…) and webhook signing secrets (whsec_…, base64, also
// percent-encoded as it appears in a URL).
var secretShape = regexp.MustCompile(`(?:[A-Za-z]{1,16}_)?sk_(?:test|live)_[A-Za-z0-9]+|whsec_(?:[A-Za-z0-9+/=_-]|%2[BbFf]|%3[Dd])+`)

// Redacted is what stands in for a secret-shaped substring.
const Redacted = "[REDACTED]"

// RedactSecrets replaces every secret-shaped substring of s with Redacted.
func RedactSecrets(s string) string {
	if !strings.Contains(s, "sk_") && !strings.Contains(s, "whsec_") {
		return s
	}
	return secretShape.ReplaceAllString(s, Redacted)
}

// SecretShaped reports whether s contains anything shaped like a secret.
func SecretShaped(s string) bool {
	return (strings.Contains(s, "sk_") || strings.Contains(s, "whsec_")) && secretShape.MatchString(s)
}

// idPrefixes are the prefixes of the random IDs NewID makes: webhook
// endpoints, events and deliveries, audit records, public keys.
var idPrefixes = []string{"we", "msg", "aud", "pk"}

// EchoableID reports whether s is one of our ID shapes, and so may appear in
// an error message: a client ID (ck_test_…) or a prefixed random ID (we_…,
// msg_…, aud_…, pk_…). Anything else a caller sent is never echoed.
func EchoableID(s string) bool {
	if ValidClientID(s) {
		return true
	}
	prefix, rest, ok := strings.Cut(s, "_")
	return ok && slices.Contains(idPrefixes, prefix) && len(rest) == randomIDLen && isBase62(rest)
}
