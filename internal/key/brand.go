package key

import (
	"fmt"
	"strings"
)

// Brand is the deployment's secret prefix: 2..16 lowercase ASCII letters,
// so that secret scanners can tell our secrets from anyone else's. The zero
// Brand is DefaultBrand.
type Brand string

// DefaultBrand is the brand of a deployment that names none.
const DefaultBrand Brand = "paykeys"

// ParseBrand checks a configured brand; "" is DefaultBrand.
func ParseBrand(s string) (Brand, error) {
	if s == "" {
		return DefaultBrand, nil
	}
	if len(s) < 2 || len(s) > 16 || strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz") != "" {
		return "", fmt.Errorf("brand must be 2 to 16 lowercase letters a-z")
	}
	return Brand(s), nil
}

func (b Brand) orDefault() Brand {
	if b == "" {
		return DefaultBrand
	}
	return b
}

// prefix is what every secret of the brand starts with before its
// environment: "<brand>_sk_".
func (b Brand) prefix() string { return string(b.orDefault()) + "_" + secretMark }

// SecretLen is the length of every well-formed secret of the brand.
func (b Brand) SecretLen() int { return len(b.prefix()) + len("test_") + secretTailLen }

// ScannerPattern is the regular expression (RE2 and PCRE alike) that
// matches exactly the secrets of the brand, for secret scanners; the README
// publishes it.
func (b Brand) ScannerPattern() string {
	return `\b` + b.prefix() + `(?:test|live)_[0-9A-Za-z]{` + fmt.Sprint(secretTailLen) + `}\b`
}

// NewSecret returns a fresh secret of the brand bound to clientID, which
// must be well formed.
func (b Brand) NewSecret(clientID string) string {
	body := b.prefix() + clientID[len(clientIDPrefix):] + randomBase62(secretRandLen)
	return body + Checksum(body)
}

// ParseSecret checks a secret's shape and checksum and names its key. Only
// secrets of exactly this brand are well formed. It does no I/O and
// allocates only the client ID.
func (b Brand) ParseSecret(s string) (ParsedSecret, bool) {
	prefix := b.prefix()
	n := b.SecretLen()
	if len(s) != n || !strings.HasPrefix(s, prefix) {
		return ParsedSecret{}, false
	}
	rest := s[len(prefix):] // <env>_<tail>
	var env Environment
	switch rest[:len("test_")] {
	case envTest + "_":
		env = EnvTest
	case envLive + "_":
		env = EnvLive
	default:
		return ParsedSecret{}, false
	}
	tail := rest[len("test_"):]
	if !isBase62(tail) || Checksum(s[:n-checksumLen]) != s[n-checksumLen:] {
		return ParsedSecret{}, false
	}
	return ParsedSecret{Environment: env, ClientID: clientIDPrefix + string(env) + "_" + tail[:idRandLen]}, true
}
