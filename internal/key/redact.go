package key

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// secretShape matches anything shaped like a secret, wherever it appears in a
// string: key secrets with or without a brand prefix (sk_test_…,
// paykeys_sk_live_…), their prefix in any case and with its underscores
// percent-encoded (sk%5Ftest%5F…, as a path that was encoded twice is logged
// once decoded), and webhook signing secrets (whsec_…, base64, also
// percent-encoded as it appears in a URL). The random part is left
// case-sensitive: it is what makes a secret, whatever its prefix says.
// It is compiled on first use, which maySecret makes rare, rather than when
// a function starts: compiling it is a noticeable part of a cold start.
var secretShape = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`(?i:[a-z]{1,16}(?:_|%5f))?(?i:sk(?:_|%5f)(?:test|live)(?:_|%5f))[A-Za-z0-9]+|whsec_(?:[A-Za-z0-9+/=_-]|%2[BbFf]|%3[Dd])+`)
})

// Redacted is what stands in for a secret-shaped substring.
const Redacted = "[REDACTED]"

// RedactSecrets replaces every secret-shaped substring of s with Redacted.
func RedactSecrets(s string) string {
	if !maySecret(s) {
		return s
	}
	return secretShape().ReplaceAllString(s, Redacted)
}

// SecretShaped reports whether s contains anything shaped like a secret.
func SecretShaped(s string) bool {
	return maySecret(s) && secretShape().MatchString(s)
}

// maySecret is a quick test that s may hold a secret: it holds "whsec_" or
// an "sk" in any case, which every match of secretShape does.
func maySecret(s string) bool {
	if strings.Contains(s, "whsec_") {
		return true
	}
	for i := 0; i+1 < len(s); i++ {
		if s[i]|0x20 == 's' && s[i+1]|0x20 == 'k' {
			return true
		}
	}
	return false
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
	if _, ok := PublicKeyClientID(s); ok {
		return true
	}
	prefix, rest, ok := strings.Cut(s, "_")
	return ok && slices.Contains(idPrefixes, prefix) && len(rest) == randomIDLen && isBase62(rest)
}
