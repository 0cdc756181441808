package signature

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	testClientID = "ck_test_4cQ1ffXG1nXKuU2B0x6ZgA"
	testSecret   = "sk_test_4cQ1ffXG1nXKuU2B0x6ZgAbCdEfGhIjKlMnOpQrStUvWxY000000"
	testNonce    = "8zq0Jd4uYp2LmXkV_a-9RtQe"
	testTS       = "1795420800"
	emptySHA256  = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

	// Known answer, computed outside Go:
	//   printf '%s' "$sts" | openssl dgst -sha256 -hmac "$testSecret"
	// with sts the string to sign of TestStringToSign.
	testSTS = "v1\nGET\n/v1/payments\ncurrency=EUR&limit=10\n1795420800\n" + testNonce + "\n" + emptySHA256
	testSig = "656790f8a2a55f26b3136e9cef66aeb47098aaa21c8bbab854ed17608bd89270"
)

func hexN(c byte) string { return strings.Repeat(string(c), 64) }

func TestStringToSign(t *testing.T) {
	got := StringToSign("get", "/v1/payments", "currency=EUR&limit=10", testTS, testNonce, emptySHA256)
	if got != testSTS {
		t.Fatalf("StringToSign = %q, want %q", got, testSTS)
	}
	// Every line is kept as given, even empty ones, and there is no trailing newline.
	got = StringToSign("POST", "/a%2Fb", "", "1", "n", "h")
	if want := "v1\nPOST\n/a%2Fb\n\n1\nn\nh"; got != want {
		t.Fatalf("StringToSign = %q, want %q", got, want)
	}
}

func TestSign(t *testing.T) {
	tests := []struct {
		name, secret, sts, want string
	}{
		{name: "GET with query", secret: testSecret, sts: testSTS, want: testSig},
		{
			// printf '%s' "$sts" | openssl dgst -sha256 -hmac 'sk_live_secret'
			name:   "POST with body",
			secret: "sk_live_secret",
			sts: "v1\nPOST\n/v1/payments/pay%20ment\n\n1795420800\nAbCdEfGhIjKlMnOp\n" +
				"fa528c0793e2ec8dc7e51ae02d9943f33bafb9e5c4a8078b400f24c25f518c4f",
			want: "cf5c82675b0e87d31b9b4be615fe079103c3b53b4f65345681ee5f54e2afb1bb",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Sign(tt.secret, tt.sts)
			if got != tt.want {
				t.Fatalf("Sign = %s, want %s", got, tt.want)
			}
			m := hmac.New(sha256.New, []byte(tt.secret))
			m.Write([]byte(tt.sts))
			if independent := hex.EncodeToString(m.Sum(nil)); got != independent {
				t.Fatalf("Sign = %s, crypto/hmac says %s", got, independent)
			}
		})
	}
}

func TestContentSHA256(t *testing.T) {
	if got := ContentSHA256(nil); got != emptySHA256 {
		t.Errorf("ContentSHA256(nil) = %s", got)
	}
	if got := ContentSHA256([]byte{}); got != emptySHA256 {
		t.Errorf("ContentSHA256(empty) = %s", got)
	}
	// printf '%s' '{"amount":1000,"currency":"EUR"}' | sha256sum
	if got, want := ContentSHA256([]byte(`{"amount":1000,"currency":"EUR"}`)), "fa528c0793e2ec8dc7e51ae02d9943f33bafb9e5c4a8078b400f24c25f518c4f"; got != want {
		t.Errorf("ContentSHA256(body) = %s, want %s", got, want)
	}
}

func TestNewNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := NewNonce()
		if len(n) != 24 || !validNonce(n) {
			t.Fatalf("NewNonce() = %q: not 24 URL-safe characters", n)
		}
		if seen[n] {
			t.Fatalf("NewNonce() repeated %q", n)
		}
		seen[n] = true
	}
}

func validHeaders() Headers {
	return Headers{
		ClientID:      testClientID,
		Timestamp:     testTS,
		Nonce:         testNonce,
		ContentSHA256: emptySHA256,
		Signature:     "v1=" + testSig,
	}
}

func TestHeadersPresent(t *testing.T) {
	if (Headers{}).Present() {
		t.Error("empty Headers are present")
	}
	for _, h := range []Headers{{ClientID: "x"}, {Timestamp: "x"}, {Nonce: "x"}, {ContentSHA256: "x"}, {Signature: "x"}} {
		if !h.Present() {
			t.Errorf("%+v not present", h)
		}
	}
}

func TestParse(t *testing.T) {
	p, err := Parse(validHeaders())
	if err != nil {
		t.Fatalf("Parse(valid): %v", err)
	}
	if p.ClientID != testClientID || p.Timestamp != 1795420800 || p.TimestampRaw != testTS ||
		p.Nonce != testNonce || p.ContentSHA256 != emptySHA256 || p.SignatureCount != 1 ||
		hex.EncodeToString(p.Signatures[0][:]) != testSig {
		t.Fatalf("Parse(valid) = %+v", p)
	}

	sigA, sigB := hexN('a'), hexN('b')
	tests := []struct {
		name    string
		edit    func(*Headers)
		wantErr error
		wantSig []string // decoded v1 signatures, when valid
	}{
		{name: "live client ID", edit: func(h *Headers) { h.ClientID = "ck_live_" + strings.Repeat("Z", 22) }},
		{name: "12-digit timestamp", edit: func(h *Headers) { h.Timestamp = "999999999999" }},
		{name: "zero timestamp", edit: func(h *Headers) { h.Timestamp = "0" }},
		{name: "16-char nonce", edit: func(h *Headers) { h.Nonce = strings.Repeat("-", 16) }},
		{name: "64-char nonce", edit: func(h *Headers) { h.Nonce = strings.Repeat("_", 64) }},
		{name: "two signatures", edit: func(h *Headers) { h.Signature = "v1=" + sigA + ",v1=" + sigB }, wantSig: []string{sigA, sigB}},
		{name: "spaces around commas", edit: func(h *Headers) { h.Signature = " v1=" + sigA + " ,\tv1=" + sigB + " " }, wantSig: []string{sigA, sigB}},
		{name: "v2 ignored", edit: func(h *Headers) { h.Signature = "v2=whatever, v1=" + sigA }, wantSig: []string{sigA}},
		{name: "five items", edit: func(h *Headers) { h.Signature = strings.Repeat("v2=x,", 4) + "v1=" + sigA }, wantSig: []string{sigA}},

		{name: "missing client ID", edit: func(h *Headers) { h.ClientID = "" }, wantErr: ErrMissing},
		{name: "missing timestamp", edit: func(h *Headers) { h.Timestamp = "" }, wantErr: ErrMissing},
		{name: "missing nonce", edit: func(h *Headers) { h.Nonce = "" }, wantErr: ErrMissing},
		{name: "missing content hash", edit: func(h *Headers) { h.ContentSHA256 = "" }, wantErr: ErrMissing},
		{name: "missing signature", edit: func(h *Headers) { h.Signature = "" }, wantErr: ErrMissing},

		{name: "client ID bad env", edit: func(h *Headers) { h.ClientID = "ck_prod_4cQ1ffXG1nXKuU2B0x6ZgA" }, wantErr: ErrMalformed},
		{name: "client ID secret prefix", edit: func(h *Headers) { h.ClientID = "sk_test_4cQ1ffXG1nXKuU2B0x6ZgA" }, wantErr: ErrMalformed},
		{name: "client ID short", edit: func(h *Headers) { h.ClientID = testClientID[:29] }, wantErr: ErrMalformed},
		{name: "client ID long", edit: func(h *Headers) { h.ClientID = testClientID + "A" }, wantErr: ErrMalformed},
		{name: "client ID not base62", edit: func(h *Headers) { h.ClientID = testClientID[:29] + "-" }, wantErr: ErrMalformed},
		{name: "client ID upper prefix", edit: func(h *Headers) { h.ClientID = "CK_TEST_4cQ1ffXG1nXKuU2B0x6ZgA" }, wantErr: ErrMalformed},
		{name: "timestamp sign", edit: func(h *Headers) { h.Timestamp = "+1795420800" }, wantErr: ErrMalformed},
		{name: "timestamp negative", edit: func(h *Headers) { h.Timestamp = "-1" }, wantErr: ErrMalformed},
		{name: "timestamp 13 digits", edit: func(h *Headers) { h.Timestamp = "1795420800000" }, wantErr: ErrMalformed},
		{name: "timestamp fraction", edit: func(h *Headers) { h.Timestamp = "1795420800.5" }, wantErr: ErrMalformed},
		{name: "timestamp space", edit: func(h *Headers) { h.Timestamp = " 1795420800" }, wantErr: ErrMalformed},
		{name: "nonce short", edit: func(h *Headers) { h.Nonce = strings.Repeat("a", 15) }, wantErr: ErrMalformed},
		{name: "nonce long", edit: func(h *Headers) { h.Nonce = strings.Repeat("a", 65) }, wantErr: ErrMalformed},
		{name: "nonce bad char", edit: func(h *Headers) { h.Nonce = testNonce[:23] + "=" }, wantErr: ErrMalformed},
		{name: "nonce plus", edit: func(h *Headers) { h.Nonce = testNonce[:23] + "+" }, wantErr: ErrMalformed},
		{name: "content hash upper", edit: func(h *Headers) { h.ContentSHA256 = strings.ToUpper(emptySHA256) }, wantErr: ErrMalformed},
		{name: "content hash short", edit: func(h *Headers) { h.ContentSHA256 = emptySHA256[:63] }, wantErr: ErrMalformed},
		{name: "content hash not hex", edit: func(h *Headers) { h.ContentSHA256 = hexN('g') }, wantErr: ErrMalformed},
		{name: "signature upper hex", edit: func(h *Headers) { h.Signature = "v1=" + strings.ToUpper(testSig) }, wantErr: ErrMalformed},
		{name: "signature short", edit: func(h *Headers) { h.Signature = "v1=" + testSig[:63] }, wantErr: ErrMalformed},
		{name: "signature long", edit: func(h *Headers) { h.Signature = "v1=" + testSig + "0" }, wantErr: ErrMalformed},
		{name: "signature no version", edit: func(h *Headers) { h.Signature = testSig }, wantErr: ErrMalformed},
		{name: "signature empty version", edit: func(h *Headers) { h.Signature = "=" + testSig }, wantErr: ErrMalformed},
		{name: "signature base64", edit: func(h *Headers) { h.Signature = "v1=ZXhhbXBsZQ==" }, wantErr: ErrMalformed},
		{name: "signature space after =", edit: func(h *Headers) { h.Signature = "v1= " + testSig }, wantErr: ErrMalformed},
		{name: "signature only v2", edit: func(h *Headers) { h.Signature = "v2=" + testSig }, wantErr: ErrMalformed},
		{name: "signature empty item", edit: func(h *Headers) { h.Signature = "v1=" + sigA + ",,v1=" + sigB }, wantErr: ErrMalformed},
		{name: "signature trailing comma", edit: func(h *Headers) { h.Signature = "v1=" + sigA + "," }, wantErr: ErrMalformed},
		{name: "signature only spaces", edit: func(h *Headers) { h.Signature = "   " }, wantErr: ErrMalformed},
		{name: "six signatures", edit: func(h *Headers) { h.Signature = strings.TrimSuffix(strings.Repeat("v1="+sigA+",", 6), ",") }, wantErr: ErrMalformed},
		{name: "six items with v2", edit: func(h *Headers) { h.Signature = strings.Repeat("v2=x,", 5) + "v1=" + sigA }, wantErr: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHeaders()
			tt.edit(&h)
			p, err := Parse(h)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Parse(%+v) error = %v, want %v", h, err, tt.wantErr)
				}
				if p != (Parsed{}) {
					t.Fatalf("Parse returned %+v with an error", p)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%+v): %v", h, err)
			}
			if tt.wantSig != nil {
				if p.SignatureCount != len(tt.wantSig) {
					t.Fatalf("SignatureCount = %d, want %d", p.SignatureCount, len(tt.wantSig))
				}
				for i, want := range tt.wantSig {
					if got := hex.EncodeToString(p.Signatures[i][:]); got != want {
						t.Errorf("Signatures[%d] = %s, want %s", i, got, want)
					}
				}
			}
		})
	}
}

func TestErrorsNameNoValue(t *testing.T) {
	h := validHeaders()
	h.Nonce = "secret-looking-value-but-invalid!"
	_, err := Parse(h)
	if err == nil || strings.Contains(err.Error(), h.Nonce) || !strings.Contains(err.Error(), HeaderNonce) {
		t.Fatalf("error %q should name the header and not the value", err)
	}
}

func TestInWindow(t *testing.T) {
	p, err := Parse(validHeaders())
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Unix(p.Timestamp, 0)
	tests := []struct {
		name string
		now  time.Time
		want bool
	}{
		{"same second", ts, true},
		{"300 s later", ts.Add(300 * time.Second), true},
		{"300 s earlier", ts.Add(-300 * time.Second), true},
		{"300.9 s later", ts.Add(300*time.Second + 900*time.Millisecond), true},
		{"301 s later", ts.Add(301 * time.Second), false},
		{"301 s earlier", ts.Add(-301 * time.Second), false},
		{"a day later", ts.Add(24 * time.Hour), false},
		{"zero time", time.Time{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.InWindow(tt.now); got != tt.want {
				t.Fatalf("InWindow(ts%+v) = %v, want %v", tt.now.Sub(ts), got, tt.want)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	const (
		method = "GET"
		path   = "/v1/payments"
		query  = "currency=EUR&limit=10"
	)
	wrongSig := Sign("sk_test_other", testSTS)
	tests := []struct {
		name   string
		sig    string // X-Signature
		secret string
		sts    string
		want   bool
	}{
		{name: "right secret", sig: "v1=" + testSig, secret: testSecret, sts: testSTS, want: true},
		{name: "wrong secret", sig: "v1=" + testSig, secret: "sk_test_other", sts: testSTS},
		{name: "empty secret", sig: "v1=" + Sign("", testSTS), secret: "", sts: testSTS},
		{name: "tampered method", sig: "v1=" + testSig, secret: testSecret, sts: StringToSign("POST", path, query, testTS, testNonce, emptySHA256)},
		{name: "tampered path", sig: "v1=" + testSig, secret: testSecret, sts: StringToSign(method, "/v1/payment", query, testTS, testNonce, emptySHA256)},
		{name: "tampered query", sig: "v1=" + testSig, secret: testSecret, sts: StringToSign(method, path, "currency=EUR&limit=11", testTS, testNonce, emptySHA256)},
		{name: "tampered timestamp", sig: "v1=" + testSig, secret: testSecret, sts: StringToSign(method, path, query, "1795420801", testNonce, emptySHA256)},
		{name: "tampered nonce", sig: "v1=" + testSig, secret: testSecret, sts: StringToSign(method, path, query, testTS, testNonce[:23]+"f", emptySHA256)},
		{name: "tampered content hash", sig: "v1=" + testSig, secret: testSecret, sts: StringToSign(method, path, query, testTS, testNonce, hexN('0'))},
		{name: "second of two", sig: "v1=" + wrongSig + ",v1=" + testSig, secret: testSecret, sts: testSTS, want: true},
		{name: "first of two", sig: "v1=" + testSig + ", v1=" + wrongSig, secret: testSecret, sts: testSTS, want: true},
		{name: "last of five", sig: strings.Repeat("v1="+wrongSig+",", 4) + "v1=" + testSig, secret: testSecret, sts: testSTS, want: true},
		{name: "right one as v2", sig: "v2=" + testSig + ",v1=" + wrongSig, secret: testSecret, sts: testSTS},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := validHeaders()
			h.Signature = tt.sig
			p, err := Parse(h)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Verify([]byte(tt.secret), tt.sts); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
	var zero Parsed
	if zero.Verify([]byte(testSecret), testSTS) {
		t.Fatal("a Parsed with no signatures verified")
	}
}

// authorize checks a request the way the authorizer does.
func authorize(t *testing.T, r *http.Request, secret string, now time.Time) bool {
	t.Helper()
	p, err := Parse(Headers{
		ClientID:      r.Header.Get(HeaderClientID),
		Timestamp:     r.Header.Get(HeaderTimestamp),
		Nonce:         r.Header.Get(HeaderNonce),
		ContentSHA256: r.Header.Get(HeaderContentSHA256),
		Signature:     r.Header.Get(HeaderSignature),
	})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	cq, err := CanonicalQueryRaw(r.URL.RawQuery)
	if err != nil {
		t.Fatalf("CanonicalQueryRaw: %v", err)
	}
	sts := StringToSign(r.Method, r.URL.EscapedPath(), cq, p.TimestampRaw, p.Nonce, p.ContentSHA256)
	return p.InWindow(now) && p.Verify([]byte(secret), sts)
}

func TestSignRequestRoundTrip(t *testing.T) {
	now := time.Unix(1795420800, 0)
	tests := []struct {
		name, method, url string
		body              []byte
	}{
		{name: "GET with query", method: "GET", url: "https://pay.example.com/v1/payments?limit=10&currency=EUR"},
		{name: "POST with body", method: "POST", url: "https://pay.example.com/v1/payments", body: []byte(`{"amount":1000}`)},
		{name: "escaped path and messy query", method: "DELETE", url: "https://pay.example.com/v1/a%2Fb/caf%C3%A9?q=a+b&x&&y=%7e&z=%c3%a9"},
		{name: "lower-case method", method: "patch", url: "https://pay.example.com/v1/payments/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := http.NewRequest(tt.method, tt.url, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := SignRequest(r, testClientID, testSecret, tt.body, now); err != nil {
				t.Fatalf("SignRequest: %v", err)
			}
			if got := r.Header.Get(HeaderContentSHA256); got != ContentSHA256(tt.body) {
				t.Fatalf("%s = %s, want the body's hash", HeaderContentSHA256, got)
			}
			if r.Header.Get(HeaderClientID) != testClientID || r.Header.Get(HeaderTimestamp) != "1795420800" {
				t.Fatalf("headers = %v", r.Header)
			}
			if !authorize(t, r, testSecret, now.Add(299*time.Second)) {
				t.Fatal("signed request does not verify")
			}
			if authorize(t, r, "sk_test_other", now) {
				t.Fatal("verifies with another secret")
			}
			if authorize(t, r, testSecret, now.Add(301*time.Second)) {
				t.Fatal("verifies outside the window")
			}
			r.URL.Path += "x"
			r.URL.RawPath = ""
			if authorize(t, r, testSecret, now) {
				t.Fatal("verifies with another path")
			}
		})
	}
}

func TestSignRequestEmptyPath(t *testing.T) {
	r, err := http.NewRequest("GET", "https://pay.example.com?a=1", nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1795420800, 0)
	if err := SignRequest(r, testClientID, testSecret, nil, now); err != nil {
		t.Fatal(err)
	}
	// net/http sends "GET /?a=1": the path signed is "/".
	r.URL.Path = "/"
	if !authorize(t, r, testSecret, now) {
		t.Fatal("request with empty path does not verify as /")
	}
}

func TestSignRequestBadQuery(t *testing.T) {
	r, err := http.NewRequest("GET", "https://pay.example.com/v1/payments", nil)
	if err != nil {
		t.Fatal(err)
	}
	r.URL.RawQuery = "x=%zz"
	if err := SignRequest(r, testClientID, testSecret, nil, time.Now()); !errors.Is(err, ErrMalformed) {
		t.Fatalf("SignRequest error = %v, want ErrMalformed", err)
	}
	if r.Header.Get(HeaderSignature) != "" {
		t.Fatal("headers set on failure")
	}
}

func TestVerifyAllocations(t *testing.T) {
	h := validHeaders()
	allocs := testing.AllocsPerRun(100, func() {
		p, err := Parse(h)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Verify([]byte(testSecret), testSTS) {
			t.Fatal("no match")
		}
	})
	t.Logf("Parse+Verify: %v allocations", allocs)
	if allocs > 8 {
		t.Errorf("Parse+Verify: %v allocations, want a handful", allocs)
	}
}

// The pre-wrapped errors read as the sentinel they wrap, then their detail.
func TestPreWrappedErrors(t *testing.T) {
	tests := []struct {
		err  error
		kind error
		text string
	}{
		{errMissingNonce, ErrMissing, "signature: missing header X-Nonce"},
		{errBadSignature, ErrMalformed, "signature: malformed X-Signature"},
		{errTooManySignature, ErrMalformed, "signature: malformed X-Signature: more than " + strconv.Itoa(MaxSignatures) + " items"},
		{errNoV1Signature, ErrMalformed, "signature: malformed X-Signature: no v1= item"},
		{errSigNonce, ErrMalformed, "signature: malformed: nonce must be 16..64 characters of [A-Za-z0-9_-]"},
		{errBadQuery, ErrMalformed, "signature: malformed query: invalid percent-encoding"},
	}
	for _, tt := range tests {
		if !errors.Is(tt.err, tt.kind) || tt.err.Error() != tt.text {
			t.Errorf("%q (is %v: %v), want %q", tt.err, tt.kind, errors.Is(tt.err, tt.kind), tt.text)
		}
	}
}
