package signature

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzParse: Parse never panics, fails only with the sentinel errors, and
// whatever it accepts, written back as headers, parses to the same value.
func FuzzParse(f *testing.F) {
	h := validHeaders()
	f.Add(h.ClientID, h.Timestamp, h.Nonce, h.ContentSHA256, h.Signature)
	f.Add(h.ClientID, "999999999999", strings.Repeat("_", 64), hexN('f'), " v2=x ,\tv1="+hexN('0')+", v1="+hexN('9'))
	f.Add("ck_live_", "-1", "short", "E3B0", "v1=,v1")
	f.Add("", "", "", "", "")
	f.Add(h.ClientID, h.Timestamp, h.Nonce, h.ContentSHA256, strings.Repeat("v1="+testSig+",", 6))
	f.Fuzz(func(t *testing.T, clientID, timestamp, nonce, contentSHA256, sig string) {
		p, err := Parse(Headers{clientID, timestamp, nonce, contentSHA256, sig})
		if err != nil {
			if !errors.Is(err, ErrMissing) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if p.SignatureCount < 1 || p.SignatureCount > MaxSignatures {
			t.Fatalf("accepted with %d signatures", p.SignatureCount)
		}
		if p.TimestampRaw != timestamp || p.Timestamp < 0 {
			t.Fatalf("timestamp %q parsed as %d", timestamp, p.Timestamp)
		}
		items := make([]string, p.SignatureCount)
		for i := range items {
			items[i] = "v1=" + hex.EncodeToString(p.Signatures[i][:])
		}
		again, err := Parse(Headers{p.ClientID, p.TimestampRaw, p.Nonce, p.ContentSHA256, strings.Join(items, ",")})
		if err != nil {
			t.Fatalf("accepted %+v does not parse again: %v", p, err)
		}
		if again != p {
			t.Fatalf("parsed again as %+v, want %+v", again, p)
		}
		_ = p.InWindow(time.Time{})
		_ = p.Verify([]byte("k"), "")
	})
}

// FuzzCanonicalQuery: CanonicalQueryRaw never panics; its output is
// canonical (a fixed point), made only of unreserved characters, %XX in upper
// case, '=' and '&', and equal to a slow reference built on net/url.
func FuzzCanonicalQuery(f *testing.F) {
	for _, s := range []string{"", "b=2&a=1", "a", "a=b=c", "q=a+b", "x=%zz", "%", "a=1&&b=2",
		"q=caf%c3%a9", "sp ace=1", "a-=1&a=2", "=", "&", "%41=%7e&%2b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		out, err := CanonicalQueryRaw(raw)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := CanonicalQueryRaw(out)
		if err != nil || again != out {
			t.Fatalf("CanonicalQueryRaw(%q) = %q; of that: %q, %v", raw, out, again, err)
		}
		for i := 0; i < len(out); i++ {
			c := out[i]
			switch {
			case isUnreserved(c), c == '=', c == '&':
			case c == '%' && i+2 < len(out) && strings.IndexByte(upperHex, out[i+1]) >= 0 && strings.IndexByte(upperHex, out[i+2]) >= 0:
				i += 2
			default:
				t.Fatalf("CanonicalQueryRaw(%q) = %q: byte %q at %d", raw, out, c, i)
			}
		}
		if ref := referenceCanonicalQuery(t, raw); ref != out {
			t.Fatalf("CanonicalQueryRaw(%q) = %q, reference %q", raw, out, ref)
		}
	})
}

// FuzzParseMessageSignature: the RFC 9421 headers never panic the parser,
// fail only with ErrMalformed, and what is accepted serializes to a
// Signature-Input that parses again to the same signature parameters.
func FuzzParseMessageSignature(f *testing.F) {
	f.Add(`sig1=("@method" "@authority" "@path" "@query");created=1700000000;nonce="abcdefghijklmnop";keyid="pk_x";alg="ed25519"`, `sig1=:AAAA:`, false)
	f.Add(`s=("@method" "@authority" "@path" "@query" "content-digest");alg="ecdsa-p256-sha256";expires=9;created=1;nonce="abcdefghijklmnop_-";keyid="k"`, `s=:QUJD:`, true)
	f.Add(`a=?0, b, c; foo=bar, d=(1 2);x="y\"z", e=-12.50`, `a=:AQI=:`, false)
	f.Add(rfcB26SignatureInput, rfcB26Signature, false)
	f.Add(`s=("`, `s=:`, true)
	f.Fuzz(func(t *testing.T, input, sig string, body bool) {
		s, err := ParseMessageSignature(input, sig, body)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		again, err := ParseMessageSignature(s.Label+"="+s.params, sig, body)
		if err != nil {
			t.Fatalf("serialized %q does not parse again: %v", s.params, err)
		}
		if again.params != s.params || again.KeyID != s.KeyID || again.Nonce != s.Nonce ||
			again.Created != s.Created || again.Expires != s.Expires || again.Alg != s.Alg {
			t.Fatalf("round trip changed %+v into %+v", s, again)
		}
		if _, err := s.Base(Message{Method: "GET", Header: func(string) (string, bool) { return "v", true }}); err != nil {
			t.Fatalf("base of an accepted signature: %v", err)
		}
	})
}
