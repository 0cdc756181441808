package signature

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"testing"
)

// benchBase is a typical RFC 9421 signature base of a signed POST.
const benchBase = `"@method": POST
"@authority": api.example.com
"@path": /v1/payments
"@query": ?currency=EUR&limit=10
"content-digest": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:
"@signature-params": ("@method" "@authority" "@path" "@query" "content-digest");created=1795428000;nonce="b3k2Vq0aB1cD2eF3gH4iJ5kL";keyid="pk_test_5Vq0aB1cD2eF3gH4iJ5kL6_Q7wE9rT1yU3i";alg="ed25519"`

// BenchmarkPublicKeyVerification compares, in one run, one Ed25519 and one
// ECDSA P-256 verification of an RFC 9421 signature base with one
// HMAC-SHA256 of the same bytes (what an HMAC-signed request costs).
func BenchmarkPublicKeyVerification(b *testing.B) {
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := ecPriv.PublicKey.Bytes()
	_, edSig, _ := SignBase(edPriv, benchBase)
	_, ecSig, _ := SignBase(ecPriv, benchBase)
	b.Run("ed25519", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !VerifyPublic(AlgEd25519, edPub, nil, benchBase, edSig) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("ecdsa-p256-sha256", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !VerifyPublic(AlgECDSAP256, raw[1:33], raw[33:], benchBase, ecSig) {
				b.Fatal("no match")
			}
		}
	})
	b.Run("hmac-sha256", func(b *testing.B) {
		key := []byte(testSecret)
		want := hmac.New(sha256.New, key)
		want.Write([]byte(benchBase))
		sum := want.Sum(nil)
		b.ReportAllocs()
		for b.Loop() {
			m := hmac.New(sha256.New, key)
			m.Write([]byte(benchBase))
			if !hmac.Equal(m.Sum(nil), sum) {
				b.Fatal("no match")
			}
		}
	})
}
