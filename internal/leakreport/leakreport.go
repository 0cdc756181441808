// Package leakreport reads leak reports from secret scanners in GitHub's
// secret-scanning partner format (README: Leak reports): a JSON array of
// {token, type, url, source}, signed over the raw body with ECDSA P-256 and
// SHA-256 by a key the scanner publishes. Pure Go: no I/O.
package leakreport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
)

// Limits of one report.
const (
	MaxEntries = 100      // tokens in one report; more is refused
	MaxBody    = 64 << 10 // bytes of one report; more is refused
)

// Headers that carry a report's signature.
const (
	HeaderKeyID     = "Github-Public-Key-Identifier"
	HeaderSignature = "Github-Public-Key-Signature"
)

// ErrSignature means a report is not signed by a configured key: the
// identifier or the signature is missing, the identifier is unknown, or the
// signature does not verify.
var ErrSignature = errors.New("leak report: signature missing, unknown or wrong")

// Keys are the scanner's verification keys by identifier.
type Keys map[string]*ecdsa.PublicKey

// configKey is one entry of LEAK_REPORT_KEYS.
type configKey struct {
	KeyIdentifier string `json:"key_identifier"`
	Key           string `json:"key"`
}

// ParseKeys reads LEAK_REPORT_KEYS: a JSON array of {"key_identifier": ...,
// "key": "<PEM public key>"}, each an ECDSA P-256 key ("" or "[]": none, and
// every report is refused).
func ParseKeys(s string) (Keys, error) {
	keys := Keys{}
	if s == "" {
		return keys, nil
	}
	var list []configKey
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf(`must be a JSON array of {"key_identifier", "key"}: %w`, err)
	}
	for i, c := range list {
		if c.KeyIdentifier == "" {
			return nil, fmt.Errorf("entry %d has no key_identifier", i)
		}
		if _, dup := keys[c.KeyIdentifier]; dup {
			return nil, fmt.Errorf("key_identifier %q is given twice", c.KeyIdentifier)
		}
		pub, err := parsePublicKey(c.Key)
		if err != nil {
			return nil, fmt.Errorf("key %q: %w", c.KeyIdentifier, err)
		}
		keys[c.KeyIdentifier] = pub
	}
	return keys, nil
}

func parsePublicKey(s string) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(s))
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY block")
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok || ec.Curve != elliptic.P256() {
		return nil, errors.New("not an ECDSA P-256 key")
	}
	return ec, nil
}

// Verify checks that signature (base64 of an ASN.1 DER ECDSA signature) is
// the key keyID's over the SHA-256 of body.
func (k Keys) Verify(keyID, signature string, body []byte) error {
	pub, ok := k[keyID]
	if !ok || keyID == "" || signature == "" {
		return ErrSignature
	}
	der, err := base64.StdEncoding.DecodeString(signature)
	if err != nil {
		return ErrSignature
	}
	digest := sha256.Sum256(body)
	if !ecdsa.VerifyASN1(pub, digest[:], der) {
		return ErrSignature
	}
	return nil
}

// Entry is one reported match.
type Entry struct {
	Token  string `json:"token"`
	Type   string `json:"type"`
	URL    string `json:"url"`
	Source string `json:"source"`
}

// Label is a scanner's verdict feedback for one token.
type Label string

// Labels the scanner accepts.
const (
	TruePositive  Label = "true_positive"
	FalsePositive Label = "false_positive"
)

// Answer is the feedback for one reported token, in the order reported.
type Answer struct {
	TokenRaw  string `json:"token_raw"`
	TokenType string `json:"token_type"`
	Label     Label  `json:"label"`
}

// Sign is what a scanner does: the base64 of the ASN.1 DER ECDSA signature
// of the SHA-256 of body, for HeaderSignature. Tests and local tools sign
// reports with it.
func Sign(priv *ecdsa.PrivateKey, body []byte) (string, error) {
	digest := sha256.Sum256(body)
	der, err := ecdsa.SignASN1(rand.Reader, priv, digest[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// KeyConfig is the LEAK_REPORT_KEYS entry of one public key.
func KeyConfig(keyID string, pub *ecdsa.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(configKey{KeyIdentifier: keyID, Key: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))})
	return string(b), err
}
