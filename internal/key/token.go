package key

import (
	"crypto/rand"
	"crypto/sha256"
	"hash/crc32"
	"strings"
)

// Token layout (the OpenAPI document: ClientId and Secret):
//
//	client ID: ck_<env>_<22 base62>
//	secret:    <brand>_sk_<env>_<22 base62 of the client ID><33 base62 random><6 base62 CRC32>
//
// The secret embeds its client ID's random part, so finding a secret's key is one
// GetItem, and ends in a checksum of everything before it, so a mistyped secret
// is rejected with no I/O. The brand (a deployment setting, see Brand) lets
// secret scanners tell our secrets from anyone else's.
const (
	alphabet       = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	idRandLen      = 22 // ~131 bits: collision-free client IDs
	secretRandLen  = 33 // ~196 bits of entropy (>= 192)
	checksumLen    = 6
	clientIDPrefix = "ck_"
	secretMark     = "sk_"
	envTest        = "test"
	envLive        = "live"
	envPrefixLen   = len("ck_test_")
	// secretTailLen is the length of a secret after its "<brand>_sk_<env>_".
	secretTailLen = idRandLen + secretRandLen + checksumLen
	// ClientIDLen is the length of every well-formed client ID.
	ClientIDLen = envPrefixLen + idRandLen
)

// randomBase62 returns n characters drawn uniformly from the base62 alphabet
// using crypto/rand (rejection sampling: no modulo bias).
func randomBase62(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/2)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic("crypto/rand failed: " + err.Error()) // the OS CSPRNG never fails on Linux
		}
		for _, b := range buf {
			if b < 248 { // 248 = 62*4, so b%62 is uniform
				out = append(out, alphabet[b%62])
				if len(out) == n {
					break
				}
			}
		}
	}
	return string(out)
}

// Checksum is the IEEE CRC32 of s in base62 (0-9A-Za-z), most significant digit
// first, left-padded with '0' to 6 characters.
func Checksum(s string) string {
	v := crc32.ChecksumIEEE([]byte(s))
	var out [checksumLen]byte
	for i := checksumLen - 1; i >= 0; i-- {
		out[i] = alphabet[v%62]
		v /= 62
	}
	return string(out[:])
}

// NewClientID returns a fresh client ID for env.
func NewClientID(env Environment) string {
	return clientIDPrefix + string(env) + "_" + randomBase62(idRandLen)
}

// ParsedSecret is what can be learnt from a secret without any I/O.
type ParsedSecret struct {
	Environment Environment
	ClientID    string
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isBase62Byte(s[i]) {
			return false
		}
	}
	return true
}

func isBase62Byte(c byte) bool {
	return '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z'
}

func parseEnvPrefix(s, prefix string) (Environment, bool) {
	if !strings.HasPrefix(s, prefix) || len(s) < envPrefixLen || s[envPrefixLen-1] != '_' {
		return "", false
	}
	switch env := s[len(prefix) : envPrefixLen-1]; env {
	case envTest, envLive:
		return Environment(env), true
	}
	return "", false
}

// ValidClientID reports whether s has the shape of a client ID.
func ValidClientID(s string) bool {
	if len(s) != ClientIDLen {
		return false
	}
	_, ok := parseEnvPrefix(s, clientIDPrefix)
	return ok && isBase62(s[envPrefixLen:])
}

// Hash is what the database keeps of a secret: its SHA-256. Secrets carry
// ~196 bits of entropy, so a fast hash is enough; no plaintext is ever stored.
func Hash(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// Hint is "…" and the last 4 characters of a secret, so people can tell secrets apart.
func Hint(secret string) string {
	if len(secret) < 4 {
		return "…"
	}
	return "…" + secret[len(secret)-4:]
}
