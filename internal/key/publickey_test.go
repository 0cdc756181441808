package key

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"testing"
	"time"
)

// RFC 8037 Appendix A.3: the thumbprint of its Ed25519 example key.
func TestThumbprintRFC8037(t *testing.T) {
	p, err := ParsePublicKeyJWK(AlgEd25519, JWK{Kty: "OKP", Crv: "Ed25519", X: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Thumbprint(); got != "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k" {
		t.Fatalf("thumbprint %s", got)
	}
}

const rfc9421Ed25519PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n"

func TestParsePublicKey(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der384, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	p384PEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der384}))

	ed, err := ParsePublicKeyPEM(AlgEd25519, rfc9421Ed25519PEM)
	if err != nil {
		t.Fatal(err)
	}
	if j := ed.JWK(); j.Kty != "OKP" || j.Crv != "Ed25519" || j.X != "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" {
		t.Fatalf("jwk %+v", j)
	}
	p, err := ParsePublicKeyPEM(AlgECDSAP256, ecPEM)
	if err != nil {
		t.Fatal(err)
	}
	again, err := ParsePublicKeyJWK(AlgECDSAP256, p.JWK())
	if err != nil || again.Thumbprint() != p.Thumbprint() {
		t.Fatalf("JWK round trip: %v", err)
	}
	offCurve := p.JWK()
	offCurve.Y = base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	// y = 2 has no x on edwards25519.
	notEdwards := base64.RawURLEncoding.EncodeToString(append([]byte{2}, make([]byte, 31)...))
	for name, f := range map[string]func() (PublicKey, error){
		"ed25519 PEM as p-256": func() (PublicKey, error) { return ParsePublicKeyPEM(AlgECDSAP256, rfc9421Ed25519PEM) },
		"p-256 PEM as ed25519": func() (PublicKey, error) { return ParsePublicKeyPEM(AlgEd25519, ecPEM) },
		"p-384":                func() (PublicKey, error) { return ParsePublicKeyPEM(AlgECDSAP256, p384PEM) },
		"not PEM":              func() (PublicKey, error) { return ParsePublicKeyPEM(AlgEd25519, "MCowBQYDK2VwAyEA") },
		"private key PEM": func() (PublicKey, error) {
			return ParsePublicKeyPEM(AlgEd25519, "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF\n-----END PRIVATE KEY-----\n")
		},
		"trailing data":   func() (PublicKey, error) { return ParsePublicKeyPEM(AlgEd25519, rfc9421Ed25519PEM+"x") },
		"point off p-256": func() (PublicKey, error) { return ParsePublicKeyJWK(AlgECDSAP256, offCurve) },
		"not an ed25519 point": func() (PublicKey, error) {
			return ParsePublicKeyJWK(AlgEd25519, JWK{Kty: "OKP", Crv: "Ed25519", X: notEdwards})
		},
		"short x": func() (PublicKey, error) {
			return ParsePublicKeyJWK(AlgEd25519, JWK{Kty: "OKP", Crv: "Ed25519", X: "AAAA"})
		},
		"padded base64": func() (PublicKey, error) {
			return ParsePublicKeyJWK(AlgEd25519, JWK{Kty: "OKP", Crv: "Ed25519", X: ed.JWK().X + "="})
		},
		"wrong kty": func() (PublicKey, error) {
			return ParsePublicKeyJWK(AlgEd25519, JWK{Kty: "EC", Crv: "Ed25519", X: ed.JWK().X})
		},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := f(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
}

func TestPublicKeyIDsAndLimits(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	k := &Key{ID: "ck_test_5Vq0aB1cD2eF3gH4iJ5kL6", Status: StatusActive}
	ed, _ := ParsePublicKeyPEM(AlgEd25519, rfc9421Ed25519PEM)
	n, added, err := k.AddPublicKey(ed, now)
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := PublicKeyClientID(added.ID); !ok || id != k.ID || !EchoableID(added.ID) {
		t.Fatalf("public key ID %s names %q, %v", added.ID, id, ok)
	}
	if len(k.PublicKeys) != 0 {
		t.Fatal("AddPublicKey changed the original")
	}
	if _, _, err := n.AddPublicKey(ed, now); !errors.Is(err, ErrConflict) {
		t.Fatalf("the same key twice: %v", err)
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := ec.PublicKey.Bytes()
	n, _, err = n.AddPublicKey(PublicKey{Alg: AlgECDSAP256, X: raw[1:33], Y: raw[33:]}, now)
	if err != nil {
		t.Fatal(err)
	}
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw2, _ := ec2.PublicKey.Bytes()
	if _, _, err := n.AddPublicKey(PublicKey{Alg: AlgECDSAP256, X: raw2[1:33], Y: raw2[33:]}, now); !errors.Is(err, ErrConflict) {
		t.Fatalf("a third key: %v", err)
	}
	if _, _, err := n.Revoke(now).AddPublicKey(ed, now); !errors.Is(err, ErrConflict) {
		t.Fatalf("a revoked key: %v", err)
	}
	m, ok := n.RemovePublicKey(added.ID, now)
	if !ok || len(m.PublicKeys) != 1 || len(n.PublicKeys) != 2 {
		t.Fatalf("remove: %v, %d left", ok, len(m.PublicKeys))
	}
	if _, ok := m.RemovePublicKey(added.ID, now); ok {
		t.Fatal("removed twice")
	}
	for _, bad := range []string{"", "pk_", "pk_test_5Vq0aB1cD2eF3gH4iJ5kL6", "pk_test_5Vq0aB1cD2eF3gH4iJ5kL6_short", "pk_prod_5Vq0aB1cD2eF3gH4iJ5kL6_Q7wE9rT1yU3i", "ck_test_5Vq0aB1cD2eF3gH4iJ5kL6"} {
		if _, ok := PublicKeyClientID(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}
