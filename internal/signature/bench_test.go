package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// A typical signed GET with two query parameters, as the authorizer sees it.
var benchRequest = struct {
	method, path, rawQuery string
	headers                Headers
	secret                 []byte
}{
	method:   "GET",
	path:     "/v1/payments",
	rawQuery: "currency=EUR&limit=10",
	headers:  validHeaders(),
	secret:   []byte(testSecret),
}

// BenchmarkVerify is the authorizer's whole signature check: parse the
// headers, canonicalise the query, build the string to sign, verify.
func BenchmarkVerify(b *testing.B) {
	r := benchRequest
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse(r.headers)
		if err != nil {
			b.Fatal(err)
		}
		cq, err := CanonicalQueryRaw(r.rawQuery)
		if err != nil {
			b.Fatal(err)
		}
		sts := StringToSign(r.method, r.path, cq, p.TimestampRaw, p.Nonce, p.ContentSHA256)
		if !p.Verify(r.secret, sts) {
			b.Fatal("no match")
		}
	}
}

// BenchmarkHMACSHA256 is one HMAC-SHA256 of the same string to sign: the
// yardstick of DESIGN.md's "at most 10× one HMAC-SHA256".
func BenchmarkHMACSHA256(b *testing.B) {
	msg := []byte(testSTS)
	key := benchRequest.secret
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, key)
		m.Write(msg)
		m.Sum(nil)
	}
}

func BenchmarkParse(b *testing.B) {
	h := validHeaders()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(h); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCanonicalQueryRaw(b *testing.B) {
	for _, bc := range []struct{ name, raw string }{
		{"empty", ""},
		{"canonical", "currency=EUR&limit=10"},
		{"unsorted", "limit=10&currency=EUR"},
		{"messy", "q=caf%c3%a9+au+lait&b=%7e&a&&z=1"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := CanonicalQueryRaw(bc.raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
