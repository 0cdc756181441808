package signature

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RFC 9421 Appendix B.1.4, the test key test-key-ed25519, and Appendix
// B.2.6, a request signed with it, copied exactly.
const (
	rfcEd25519Public = `-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=
-----END PUBLIC KEY-----`
	rfcEd25519Private = `-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----`

	rfcB26SignatureInput = `sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
	rfcB26Signature      = `sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:`
	rfcB26Base           = `"date": Tue, 20 Apr 2021 02:07:55 GMT
"@method": POST
"@path": /foo
"@authority": example.com
"content-type": application/json
"content-length": 18
"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"`
)

// rfcTestRequest is RFC 9421's test-request (Appendix B.2):
// POST /foo?param=Value&Pet=dog HTTP/1.1 to example.com.
func rfcTestRequest() Message {
	h := map[string]string{
		"host":           "example.com",
		"date":           "Tue, 20 Apr 2021 02:07:55 GMT",
		"content-type":   "application/json",
		"content-digest": "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:",
		"content-length": "18",
	}
	return Message{
		Method: "POST", Scheme: "https", Authority: Authority("example.com", "https"),
		Path: "/foo", Query: "param=Value&Pet=dog",
		Header: func(name string) (string, bool) { v, ok := h[name]; return v, ok },
	}
}

func rfcEd25519(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pb, _ := pem.Decode([]byte(rfcEd25519Public))
	pub, err := x509.ParsePKIXPublicKey(pb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	sb, _ := pem.Decode([]byte(rfcEd25519Private))
	priv, err := x509.ParsePKCS8PrivateKey(sb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return pub.(ed25519.PublicKey), priv.(ed25519.PrivateKey)
}

// The signature base of Appendix B.2.6 is rebuilt byte for byte from its
// Signature-Input; its signature verifies with the test key, and signing the
// base with the test key's private half (Ed25519 is deterministic) gives the
// RFC's signature.
func TestRFC9421AppendixB26(t *testing.T) {
	pub, priv := rfcEd25519(t)
	s, err := parseSignatureHeaders(rfcB26SignatureInput, rfcB26Signature)
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Base(rfcTestRequest())
	if err != nil {
		t.Fatal(err)
	}
	if base != rfcB26Base {
		t.Fatalf("signature base:\n%s\nwant:\n%s", base, rfcB26Base)
	}
	if !VerifyPublic(AlgEd25519, pub, nil, base, s.Signature) {
		t.Fatal("the RFC's signature does not verify")
	}
	_, sig, err := SignBase(priv, base)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sig, s.Signature) {
		t.Fatalf("signed %s, want the RFC's", base64.StdEncoding.EncodeToString(sig))
	}
	tampered := strings.Replace(base, "POST", "PUT", 1)
	if VerifyPublic(AlgEd25519, pub, nil, tampered, s.Signature) {
		t.Fatal("a tampered base verifies")
	}
	if VerifyPublic(AlgECDSAP256, pub, nil, base, s.Signature) {
		t.Fatal("verified under the wrong algorithm")
	}
}

// Components and parameters may come in any order and spacing; the base
// follows Signature-Input as received, serialized per RFC 8941.
func TestBaseFollowsSignatureInput(t *testing.T) {
	in := `lbl=( "@query"  "@path" "@authority" "@method");alg="ed25519";nonce="abcdefghijklmnop";keyid="pk_1";created=1700000000;expires=1700000100`
	s, err := ParseMessageSignature(in, "lbl=:AAAA:", false)
	if err != nil {
		t.Fatal(err)
	}
	base, err := s.Base(Message{Method: "GET", Scheme: "https", Authority: Authority("API.Example.COM:443", "https"), Path: "/v1/x", Query: ""})
	if err != nil {
		t.Fatal(err)
	}
	want := `"@query": ?
"@path": /v1/x
"@authority": api.example.com
"@method": GET
"@signature-params": ("@query" "@path" "@authority" "@method");alg="ed25519";nonce="abcdefghijklmnop";keyid="pk_1";created=1700000000;expires=1700000100`
	if base != want {
		t.Fatalf("base:\n%s\nwant:\n%s", base, want)
	}
	if s.Created != 1700000000 || s.Expires != 1700000100 || s.KeyID != "pk_1" || s.Alg != "ed25519" || s.Label != "lbl" {
		t.Fatalf("parsed %+v", s)
	}
}

func TestAuthority(t *testing.T) {
	for _, c := range []struct{ host, scheme, want string }{
		{"Example.com", "https", "example.com"},
		{"example.com:443", "https", "example.com"},
		{"example.com:443", "http", "example.com:443"},
		{"127.0.0.1:3170", "http", "127.0.0.1:3170"},
		{"example.com:80", "http", "example.com"},
	} {
		if got := Authority(c.host, c.scheme); got != c.want {
			t.Errorf("Authority(%q, %q) = %q, want %q", c.host, c.scheme, got, c.want)
		}
	}
}

// Every shape the contract refuses is ErrMalformed.
func TestParseMessageSignatureRefuses(t *testing.T) {
	const ok = `s=("@method" "@authority" "@path" "@query");created=1;nonce="abcdefghijklmnop";keyid="pk_1";alg="ed25519"`
	const sig = `s=:AAAA:`
	if _, err := ParseMessageSignature(ok, sig, false); err != nil {
		t.Fatalf("the valid input is refused: %v", err)
	}
	for name, c := range map[string]struct {
		in, sig string
		body    bool
	}{
		"no input":            {"", sig, false},
		"no signature":        {ok, "", false},
		"not a dictionary":    {"(", sig, false},
		"two labels":          {ok + `, t=("@method")`, sig, false},
		"labels differ":       {ok, `t=:AAAA:`, false},
		"signature not bytes": {ok, `s="AAAA"`, false},
		"input not a list":    {`s="x";created=1`, sig, false},
		"no @query":           {strings.Replace(ok, ` "@query"`, "", 1), sig, false},
		"no @authority":       {strings.Replace(ok, ` "@authority"`, "", 1), sig, false},
		"no @method":          {strings.Replace(ok, `"@method" `, "", 1), sig, false},
		"no @path":            {strings.Replace(ok, ` "@path"`, "", 1), sig, false},
		"body, no digest":     {ok, sig, true},
		"no created":          {strings.Replace(ok, "created=1;", "", 1), sig, false},
		"created a string":    {strings.Replace(ok, "created=1", `created="1"`, 1), sig, false},
		"no nonce":            {strings.Replace(ok, `nonce="abcdefghijklmnop";`, "", 1), sig, false},
		"short nonce":         {strings.Replace(ok, "abcdefghijklmnop", "abc", 1), sig, false},
		"no keyid":            {strings.Replace(ok, `keyid="pk_1";`, "", 1), sig, false},
		"keyid a token":       {strings.Replace(ok, `keyid="pk_1"`, `keyid=pk_1`, 1), sig, false},
		"no alg":              {strings.Replace(ok, `;alg="ed25519"`, "", 1), sig, false},
		"component params":    {strings.Replace(ok, `"@query"`, `"@query";req`, 1), sig, false},
		"unknown derived":     {strings.Replace(ok, `"@query"`, `"@query" "@status"`, 1), sig, false},
		"repeated component":  {strings.Replace(ok, `"@query"`, `"@query" "@path"`, 1), sig, false},
		"component a token":   {strings.Replace(ok, `"@query"`, `"@query" date`, 1), sig, false},
		"trailing comma":      {ok + ",", sig, false},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseMessageSignature(c.in, c.sig, c.body); !errors.Is(err, ErrMalformed) {
				t.Fatalf("err = %v, want ErrMalformed", err)
			}
		})
	}
	withDigest := strings.Replace(ok, `"@query"`, `"@query" "content-digest"`, 1)
	if _, err := ParseMessageSignature(withDigest, sig, true); err != nil {
		t.Fatalf("content-digest covered, with a body: %v", err)
	}
}

// A covered header the request lacks is malformed; so is a value with a line break.
func TestBaseMissingHeader(t *testing.T) {
	in := `s=("@method" "@authority" "@path" "@query" "content-digest");created=1;nonce="abcdefghijklmnop";keyid="k";alg="ed25519"`
	s, err := ParseMessageSignature(in, "s=:AAAA:", true)
	if err != nil {
		t.Fatal(err)
	}
	none := func(string) (string, bool) { return "", false }
	if _, err := s.Base(Message{Method: "POST", Header: none}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
	crlf := func(string) (string, bool) { return "a\r\nb", true }
	if _, err := s.Base(Message{Method: "POST", Header: crlf}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}

func TestMessageSignatureInWindow(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		created, expires int64
		want             bool
	}{
		{now.Unix(), 0, true},
		{now.Unix() - 300, 0, true},
		{now.Unix() + 300, 0, true},
		{now.Unix() - 301, 0, false},
		{now.Unix() + 301, 0, false},
		{now.Unix(), now.Unix() + 1, true},
		{now.Unix(), now.Unix(), false},
	} {
		s := MessageSignature{Created: c.created, Expires: c.expires}
		if got := s.InWindow(now); got != c.want {
			t.Errorf("created %+d expires %d: InWindow = %v", c.created-now.Unix(), c.expires, got)
		}
	}
}

// RFC 9530 Appendix B.2's examples, and mismatches.
func TestContentDigest(t *testing.T) {
	body := []byte(`{"hello": "world"}`)
	for name, c := range map[string]struct {
		header string
		want   error
	}{
		"sha-256":   {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", nil},
		"sha-512":   {"sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:", nil},
		"both":      {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:", nil},
		"one wrong": {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:, sha-512=:" + base64.StdEncoding.EncodeToString(make([]byte, 64)) + ":", ErrDigestMismatch},
		"wrong":     {"sha-256=:" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ":", ErrDigestMismatch},
		// A repeated header, joined with ",": every digest listed must match.
		"a wrong one, then the right one": {"sha-256=:" + base64.StdEncoding.EncodeToString(make([]byte, 32)) + ":,sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", ErrMalformed},
		"the right one twice":             {"sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:,sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:", nil},
		"md5":                             {"md5=:AAAA:", ErrMalformed},
		"short":                           {"sha-256=:AAAA:", ErrMalformed},
		"not structured":                  {"sha-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=", ErrMalformed},
		"empty":                           {"", ErrMalformed},
	} {
		t.Run(name, func(t *testing.T) {
			err := CheckContentDigest(c.header, body)
			if c.want == nil && err != nil || c.want != nil && !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
		})
	}
	if ContentDigest(body) != "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:" {
		t.Fatalf("ContentDigest = %s", ContentDigest(body))
	}
}

// SignMessage signs what the verifier rebuilds, for both algorithms.
func TestSignMessageRoundTrip(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecRaw, _ := ecPriv.PublicKey.Bytes()
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"amount":100}`)
	for name, c := range map[string]struct {
		signer func(*http.Request) error
		x, y   []byte
		alg    string
	}{
		"ed25519": {signer: func(r *http.Request) error { return SignMessage(r, "pk_a", edPriv, body, now) },
			x: edPriv.Public().(ed25519.PublicKey), alg: AlgEd25519},
		"p256": {signer: func(r *http.Request) error { return SignMessage(r, "pk_b", ecPriv, body, now) },
			x: ecRaw[1:33], y: ecRaw[33:], alg: AlgECDSAP256},
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := http.NewRequest("POST", "http://127.0.0.1:3170/demo/pay?b=2&a=1", bytes.NewReader(body))
			if err := c.signer(r); err != nil {
				t.Fatal(err)
			}
			s, err := ParseMessageSignature(r.Header.Get(HeaderSignatureInput), r.Header.Get(HeaderMessageSig), true)
			if err != nil {
				t.Fatal(err)
			}
			if s.Alg != c.alg || !s.InWindow(now) {
				t.Fatalf("alg %s, created %d", s.Alg, s.Created)
			}
			msg := Message{Method: "POST", Scheme: "http", Authority: "127.0.0.1:3170", Path: "/demo/pay", Query: "b=2&a=1",
				Header: func(n string) (string, bool) { v := r.Header.Get(n); return v, v != "" }}
			base, err := s.Base(msg)
			if err != nil {
				t.Fatal(err)
			}
			if !VerifyPublic(s.Alg, c.x, c.y, base, s.Signature) {
				t.Fatal("does not verify")
			}
			msg.Query = "a=1&b=2"
			tampered, _ := s.Base(msg)
			if VerifyPublic(s.Alg, c.x, c.y, tampered, s.Signature) {
				t.Fatal("a reordered query verifies")
			}
			if err := CheckContentDigest(r.Header.Get(HeaderContentDigest), body); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The structured-field parser follows RFC 8941's examples.
func TestParseDictionary(t *testing.T) {
	ms, ok := parseDictionary(`a=?0, b, c; foo=bar, d=(1 2);x="y\"z", e=-12.50, f=:AQI=:`)
	if !ok || len(ms) != 6 {
		t.Fatalf("ok %v, %d members", ok, len(ms))
	}
	if ms[0].Item.Bool || !ms[1].Item.Bool || ms[2].Params[0].Value.Str != "bar" {
		t.Fatalf("booleans or params wrong: %+v", ms[:3])
	}
	if !ms[3].IsList || len(ms[3].List) != 2 || ms[3].Params[0].Value.Str != `y"z` {
		t.Fatalf("inner list wrong: %+v", ms[3])
	}
	if got := string(appendInnerList(nil, &ms[3])); got != `(1 2);x="y\"z"` {
		t.Fatalf("serialized %s", got)
	}
	if got := string(appendItem(nil, ms[4].Item)); got != "-12.5" {
		t.Fatalf("decimal serialized %s", got)
	}
	if !bytes.Equal(ms[5].Item.Bytes, []byte{1, 2}) {
		t.Fatalf("bytes %v", ms[5].Item.Bytes)
	}
	for _, bad := range []string{`a=`, `A=1`, `a=1,`, `a="\x"`, `a=(1`, `a=1234567890123456`, `a=1.2345`, `a=:*:`, `a=?2`, "a=\"\x01\""} {
		if _, ok := parseDictionary(bad); ok {
			t.Errorf("%q parsed", bad)
		}
	}
}
