package key

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"slices"
	"strings"
	"time"

	"filippo.io/edwards25519"
)

// A key's registered public keys (README: Signing with a registered public
// key). The merchant keeps the private half; the server holds nothing that can
// sign. A key has at most MaxPublicKeys at once, so one can be rotated in
// before the other is deleted.

// ModeSignature is the auth mode of RFC 9421 signatures made with a
// registered public key.
const ModeSignature AuthMode = "signature"

// PublicKeyAlg is an RFC 9421 signature algorithm a public key is for.
type PublicKeyAlg string

const (
	AlgEd25519   PublicKeyAlg = "ed25519"
	AlgECDSAP256 PublicKeyAlg = "ecdsa-p256-sha256"
)

// MaxPublicKeys is the most public keys a key holds at once.
const MaxPublicKeys = 2

// Public key IDs: "pk_" + the client ID without its "ck_" + "_" + 12 base62,
// so that a signature's keyid names its key and finding it is one GetItem.
const (
	publicKeyPrefix  = "pk_"
	publicKeyRandLen = 12
	// maxPEMLen bounds a PEM or JWK a caller may send.
	maxPEMLen = 4096
)

// PublicKey is a registered verification key: the JWK coordinates in raw
// bytes (X alone for Ed25519; X and Y, 32 bytes each, for P-256).
type PublicKey struct {
	ID        string
	Alg       PublicKeyAlg
	X, Y      []byte
	CreatedAt time.Time
}

// NewPublicKeyID returns a fresh public key ID for the key clientID.
func NewPublicKeyID(clientID string) string {
	return publicKeyPrefix + strings.TrimPrefix(clientID, clientIDPrefix) + "_" + randomBase62(publicKeyRandLen)
}

// PublicKeyClientID returns the client ID a public key ID names, and false
// when id does not have the shape of a public key ID.
func PublicKeyClientID(id string) (string, bool) {
	rest, ok := strings.CutPrefix(id, publicKeyPrefix)
	if !ok || len(rest) <= publicKeyRandLen+1 || rest[len(rest)-publicKeyRandLen-1] != '_' {
		return "", false
	}
	suffix := rest[len(rest)-publicKeyRandLen:]
	clientID := clientIDPrefix + rest[:len(rest)-publicKeyRandLen-1]
	if !isBase62(suffix) || !ValidClientID(clientID) {
		return "", false
	}
	return clientID, true
}

// ParsePublicKeyAlg validates an algorithm name.
func ParsePublicKeyAlg(s string) (PublicKeyAlg, error) {
	switch a := PublicKeyAlg(s); a {
	case AlgEd25519, AlgECDSAP256:
		return a, nil
	}
	return "", Invalid("alg must be \"ed25519\" or \"ecdsa-p256-sha256\"")
}

// JWK is a public key as RFC 7517 writes it: OKP/Ed25519 or EC/P-256.
type JWK struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
}

// ParsePublicKeyPEM reads a PEM SubjectPublicKeyInfo of the algorithm alg.
// Anything else, or a point that is not on the curve, is invalid.
func ParsePublicKeyPEM(alg PublicKeyAlg, s string) (PublicKey, error) {
	bad := Invalid("public_key must be a PEM SubjectPublicKeyInfo (\"-----BEGIN PUBLIC KEY-----\") of a valid %s key", alg)
	if len(s) > maxPEMLen {
		return PublicKey{}, bad
	}
	block, rest := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" || strings.TrimSpace(string(rest)) != "" {
		return PublicKey{}, bad
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return PublicKey{}, bad
	}
	switch p := pub.(type) {
	case ed25519.PublicKey:
		if alg == AlgEd25519 && onEd25519(p) {
			return PublicKey{Alg: alg, X: slices.Clone([]byte(p))}, nil
		}
	case *ecdsa.PublicKey:
		if alg == AlgECDSAP256 && p.Curve == elliptic.P256() {
			// The uncompressed point: 0x04 ‖ X ‖ Y, 32 bytes each.
			raw, err := p.Bytes()
			if err == nil && len(raw) == 65 {
				return PublicKey{Alg: alg, X: raw[1:33], Y: raw[33:]}, nil
			}
		}
	}
	return PublicKey{}, bad
}

// ParsePublicKeyJWK reads a JWK of the algorithm alg: {"kty":"OKP",
// "crv":"Ed25519","x":...} or {"kty":"EC","crv":"P-256","x":...,"y":...},
// coordinates in unpadded base64url; a point not on the curve is invalid.
func ParsePublicKeyJWK(alg PublicKeyAlg, j JWK) (PublicKey, error) {
	bad := Invalid("jwk must be a public JWK of a valid %s key", alg)
	x, errX := base64.RawURLEncoding.Strict().DecodeString(j.X)
	switch {
	case alg == AlgEd25519 && j.Kty == "OKP" && j.Crv == "Ed25519" && j.Y == "" && errX == nil && onEd25519(x):
		return PublicKey{Alg: alg, X: x}, nil
	case alg == AlgECDSAP256 && j.Kty == "EC" && j.Crv == "P-256" && errX == nil && len(x) == 32:
		y, err := base64.RawURLEncoding.Strict().DecodeString(j.Y)
		if err != nil || len(y) != 32 || !onP256(x, y) {
			return PublicKey{}, bad
		}
		return PublicKey{Alg: alg, X: x, Y: y}, nil
	}
	return PublicKey{}, bad
}

// onEd25519 reports whether x is the canonical encoding of a point of
// edwards25519 (RFC 8032 §5.1.3).
func onEd25519(x []byte) bool {
	if len(x) != ed25519.PublicKeySize {
		return false
	}
	_, err := new(edwards25519.Point).SetBytes(x)
	return err == nil
}

// onP256 reports whether (x, y) is a point of P-256 other than the identity.
func onP256(x, y []byte) bool {
	_, err := ecdh.P256().NewPublicKey(append(append([]byte{4}, x...), y...))
	return err == nil
}

// JWK returns the key as a JWK.
func (p PublicKey) JWK() JWK {
	enc := base64.RawURLEncoding.EncodeToString
	if p.Alg == AlgECDSAP256 {
		return JWK{Kty: "EC", Crv: "P-256", X: enc(p.X), Y: enc(p.Y)}
	}
	return JWK{Kty: "OKP", Crv: "Ed25519", X: enc(p.X)}
}

// Thumbprint is the RFC 7638 JWK thumbprint: the SHA-256 of the required
// members in lexicographic order with no whitespace, unpadded base64url.
func (p PublicKey) Thumbprint() string {
	j := p.JWK()
	var s string
	if p.Alg == AlgECDSAP256 {
		s = `{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `","y":"` + j.Y + `"}`
	} else {
		s = `{"crv":"` + j.Crv + `","kty":"` + j.Kty + `","x":"` + j.X + `"}`
	}
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// PublicKeyView is a public key as the API shows it.
type PublicKeyView struct {
	ID         string       `json:"id"`
	Alg        PublicKeyAlg `json:"alg"`
	JWK        JWK          `json:"jwk"`
	Thumbprint string       `json:"thumbprint"`
	CreatedAt  time.Time    `json:"created_at"`
}

// View renders p for the API.
func (p PublicKey) View() PublicKeyView {
	return PublicKeyView{ID: p.ID, Alg: p.Alg, JWK: p.JWK(), Thumbprint: p.Thumbprint(), CreatedAt: p.CreatedAt.UTC().Truncate(time.Second)}
}

// PublicKey returns the registered public key with this ID.
func (k *Key) PublicKey(id string) (PublicKey, bool) {
	for _, p := range k.PublicKeys {
		if p.ID == id {
			return p, true
		}
	}
	return PublicKey{}, false
}

// AddPublicKey returns a copy of k with p registered, given a fresh ID and
// the time now. A revoked or expired key, a key that already holds
// MaxPublicKeys, or one that holds the same public key already, is a conflict.
func (k *Key) AddPublicKey(p PublicKey, now time.Time) (*Key, PublicKey, error) {
	switch {
	case k.Status == StatusRevoked:
		return nil, PublicKey{}, Conflict("key %s is revoked", k.ID)
	case k.EffectiveStatus(now) == StatusExpired:
		return nil, PublicKey{}, Conflict("key %s has expired", k.ID)
	case len(k.PublicKeys) >= MaxPublicKeys:
		return nil, PublicKey{}, Conflict("key %s already has %d public keys; delete one first", k.ID, MaxPublicKeys)
	}
	tp := p.Thumbprint()
	for _, q := range k.PublicKeys {
		if q.Thumbprint() == tp {
			return nil, PublicKey{}, Conflict("key %s already has this public key as %s", k.ID, q.ID)
		}
	}
	p.ID, p.CreatedAt = NewPublicKeyID(k.ID), now
	n := k.Clone()
	n.PublicKeys = append(n.PublicKeys, p)
	n.UpdatedAt = now
	return n, p, nil
}

// RemovePublicKey returns a copy of k without the public key id, and false
// when k has no such key.
func (k *Key) RemovePublicKey(id string, now time.Time) (*Key, bool) {
	i := slices.IndexFunc(k.PublicKeys, func(p PublicKey) bool { return p.ID == id })
	if i < 0 {
		return nil, false
	}
	n := k.Clone()
	n.PublicKeys = slices.Delete(n.PublicKeys, i, i+1)
	n.UpdatedAt = now
	return n, true
}
