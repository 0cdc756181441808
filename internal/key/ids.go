package key

import (
	"crypto/rand"
	"fmt"
)

// NewID returns prefix followed by 27 random base62 characters (~160 bits),
// for event (msg_), endpoint (we_) and audit (aud_) identifiers.
func NewID(prefix string) string { return prefix + randomBase62(randomIDLen) }

// randomIDLen is the length of a NewID after its prefix.
const randomIDLen = 27

// NewVersionID returns a random UUIDv4, the secret store's version token.
func NewVersionID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
