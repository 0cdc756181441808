// Package signature implements the HMAC request signature of the README (Signing a request): the
// five X- headers, the canonical query, the string to sign, signing on the
// client side and verifying on the authorizer side.
//
// The package is pure: no clock (callers pass now), no I/O except crypto/rand
// for nonces, and no knowledge of keys or stores. The authorizer's order of
// checks is:
//
//	p, err := signature.Parse(h)              // shapes only; err is ErrMissing or ErrMalformed
//	cq, err := signature.CanonicalQueryRaw(q) // or CanonicalQueryValues for decoded parameters
//	sts := signature.StringToSign(method, path, cq, p.TimestampRaw, p.Nonce, p.ContentSHA256)
//	p.InWindow(now) && (p.Verify(current, sts) || p.Verify(previous, sts))
//	// and only then record the nonce
package signature

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names, as the README spells them. HTTP header names are case-insensitive;
// net/http stores HeaderContentSHA256 as "X-Content-Sha256".
const (
	HeaderClientID      = "X-Client-Id"
	HeaderTimestamp     = "X-Timestamp"
	HeaderNonce         = "X-Nonce"
	HeaderContentSHA256 = "X-Content-SHA256"
	HeaderSignature     = "X-Signature"
)

const (
	// Window is how far a request's timestamp may be from now, either way,
	// bounds included.
	Window = 300 * time.Second
	// MaxSignatures is the most items X-Signature may carry (of any version);
	// a header with more is malformed.
	MaxSignatures = 5

	// Version is the first line of the string to sign and the prefix of
	// each signature ("v1=").
	Version = "v1"

	maxTimestampDigits = 12
	minNonceLen        = 16
	maxNonceLen        = 64
	nonceLen           = 24 // of NewNonce: 18 random bytes in base64url
	hexLen             = 2 * sha256.Size
	clientIDRandLen    = 22
	clientIDLen        = len("ck_test_") + clientIDRandLen
)

// Sentinel errors, checked with errors.Is. The authorizer answers both with
// 401 (reason MALFORMED). Messages name the header, never its value.
var (
	// ErrMissing: a required HMAC header is absent or empty.
	ErrMissing = errors.New("signature: missing header")
	// ErrMalformed: a header (or the query) does not have the required shape.
	ErrMalformed = errors.New("signature: malformed")
)

// detailed is a sentinel error with a fixed detail, found by errors.Is; the
// pre-wrapped errors below are of it, so that rejecting garbage costs no
// allocation and building them costs no formatting when a function starts.
type detailed struct {
	kind   error
	detail string
}

func (e *detailed) Error() string { return e.kind.Error() + e.detail }
func (e *detailed) Unwrap() error { return e.kind }

// maxSignaturesText is MaxSignatures written out (one digit).
const maxSignaturesText = string(rune('0' + MaxSignatures))

// Pre-wrapped errors, so that rejecting garbage costs no allocation.
var (
	errMissingClientID      = &detailed{ErrMissing, " " + HeaderClientID}
	errMissingTimestamp     = &detailed{ErrMissing, " " + HeaderTimestamp}
	errMissingNonce         = &detailed{ErrMissing, " " + HeaderNonce}
	errMissingContentSHA256 = &detailed{ErrMissing, " " + HeaderContentSHA256}
	errMissingSignature     = &detailed{ErrMissing, " " + HeaderSignature}

	errBadClientID      = &detailed{ErrMalformed, " " + HeaderClientID}
	errBadTimestamp     = &detailed{ErrMalformed, " " + HeaderTimestamp}
	errBadNonce         = &detailed{ErrMalformed, " " + HeaderNonce}
	errBadContentSHA256 = &detailed{ErrMalformed, " " + HeaderContentSHA256}
	errBadSignature     = &detailed{ErrMalformed, " " + HeaderSignature}
	errTooManySignature = &detailed{ErrMalformed, " " + HeaderSignature + ": more than " + maxSignaturesText + " items"}
	errNoV1Signature    = &detailed{ErrMalformed, " " + HeaderSignature + ": no " + Version + "= item"}
)

// Headers are the raw values of the HMAC headers as received; the caller
// looks them up case-insensitively. An empty string means absent.
type Headers struct {
	ClientID      string
	Timestamp     string
	Nonce         string
	ContentSHA256 string
	Signature     string
}

// Present reports whether any HMAC header is present. A request that carries
// a bearer secret and any of these is rejected.
func (h Headers) Present() bool {
	return h.ClientID != "" || h.Timestamp != "" || h.Nonce != "" ||
		h.ContentSHA256 != "" || h.Signature != ""
}

// Parsed is a syntactically valid set of HMAC headers. Nothing in it has been
// checked against a clock or a secret yet.
type Parsed struct {
	ClientID      string
	Timestamp     int64  // unix seconds
	TimestampRaw  string // as sent; this is what is signed
	Nonce         string
	ContentSHA256 string // 64 lowercase hex characters

	// Signatures[:SignatureCount] are the decoded v1 signatures, in header
	// order. A fixed array keeps Parse free of allocations.
	Signatures     [MaxSignatures][sha256.Size]byte
	SignatureCount int
}

// Parse checks the shape of every header; it reads no clock and no secret.
// Any required header empty gives ErrMissing; any bad shape, ErrMalformed
// (both wrapped with the header's name).
//
// Shapes: client ID ck_test_ or ck_live_ and 22 base62 characters; timestamp
// 1 to 12 decimal digits, no sign; nonce 16..64 of [A-Za-z0-9_-]; content
// hash 64 lowercase hex; signature a comma-separated list (spaces or tabs
// allowed around items) of at most MaxSignatures items, each version=value,
// where v1 values are 64 lowercase hex, other versions are ignored, and at
// least one v1 item is required.
func Parse(h Headers) (Parsed, error) {
	var p Parsed
	switch {
	case h.ClientID == "":
		return p, errMissingClientID
	case h.Timestamp == "":
		return p, errMissingTimestamp
	case h.Nonce == "":
		return p, errMissingNonce
	case h.ContentSHA256 == "":
		return p, errMissingContentSHA256
	case h.Signature == "":
		return p, errMissingSignature
	}
	if !validClientID(h.ClientID) {
		return p, errBadClientID
	}
	ts, ok := parseTimestamp(h.Timestamp)
	if !ok {
		return p, errBadTimestamp
	}
	if !validNonce(h.Nonce) {
		return p, errBadNonce
	}
	if len(h.ContentSHA256) != hexLen || !isLowerHex(h.ContentSHA256) {
		return p, errBadContentSHA256
	}
	if err := p.parseSignatures(h.Signature); err != nil {
		return Parsed{}, err
	}
	p.ClientID = h.ClientID
	p.Timestamp = ts
	p.TimestampRaw = h.Timestamp
	p.Nonce = h.Nonce
	p.ContentSHA256 = h.ContentSHA256
	return p, nil
}

// parseSignatures fills p.Signatures from the X-Signature value.
func (p *Parsed) parseSignatures(s string) error {
	items := 0
	for {
		item, rest, more := strings.Cut(s, ",")
		item = trimOWS(item)
		items++
		if items > MaxSignatures {
			return errTooManySignature
		}
		version, value, ok := strings.Cut(item, "=")
		if !ok || !validVersion(version) {
			return errBadSignature
		}
		if version == Version {
			if len(value) != hexLen || !isLowerHex(value) {
				return errBadSignature
			}
			decodeLowerHex(p.Signatures[p.SignatureCount][:], value)
			p.SignatureCount++
		}
		if !more {
			break
		}
		s = rest
	}
	if p.SignatureCount == 0 {
		return errNoV1Signature
	}
	return nil
}

// InWindow reports whether the timestamp is within ±Window of now, bounds
// included, at the precision of whole seconds.
func (p *Parsed) InWindow(now time.Time) bool {
	d := now.Unix() - p.Timestamp
	w := int64(Window / time.Second)
	return -w <= d && d <= w
}

// Verify reports whether any of p's v1 signatures is the HMAC-SHA256 of
// stringToSign under secret. The MAC is computed once and compared with every
// signature in constant time, all of them, whatever matches. An empty secret
// never verifies, so a key whose secret is gone cannot be signed for with "".
func (p *Parsed) Verify(secret []byte, stringToSign string) bool {
	if len(secret) == 0 || p.SignatureCount == 0 {
		return false
	}
	var mac [sha256.Size]byte
	sumHMAC(&mac, secret, stringToSign)
	match := 0
	for i := 0; i < p.SignatureCount && i < MaxSignatures; i++ {
		match |= subtle.ConstantTimeCompare(mac[:], p.Signatures[i][:])
	}
	return match == 1
}

// sumHMAC writes HMAC-SHA256(key, msg) to out.
func sumHMAC(out *[sha256.Size]byte, key []byte, msg string) {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	h.Sum(out[:0])
}

// StringToSign joins the seven lines of the README's signing scheme with "\n", with no trailing
// newline: "v1", the method in upper case, the path as sent, the canonical
// query, the timestamp as sent, the nonce and the content hash.
func StringToSign(method, path, canonicalQuery, timestamp, nonce, contentSHA256 string) string {
	n := len(Version) + len(method) + len(path) + len(canonicalQuery) +
		len(timestamp) + len(nonce) + len(contentSHA256) + 6
	var b strings.Builder
	b.Grow(n)
	b.WriteString(Version)
	b.WriteByte('\n')
	for i := 0; i < len(method); i++ {
		c := method[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		b.WriteByte(c)
	}
	b.WriteByte('\n')
	b.WriteString(path)
	b.WriteByte('\n')
	b.WriteString(canonicalQuery)
	b.WriteByte('\n')
	b.WriteString(timestamp)
	b.WriteByte('\n')
	b.WriteString(nonce)
	b.WriteByte('\n')
	b.WriteString(contentSHA256)
	return b.String()
}

// Sign returns the lowercase hex HMAC-SHA256 of stringToSign with the
// secret's UTF-8 bytes as the key: the value that follows "v1=".
func Sign(secret, stringToSign string) string {
	var mac [sha256.Size]byte
	sumHMAC(&mac, []byte(secret), stringToSign)
	return hex.EncodeToString(mac[:])
}

// ContentSHA256 returns the lowercase hex SHA-256 of body; for a nil or empty
// body that is the hash of the empty string.
func ContentSHA256(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// NewNonce returns 24 random URL-safe characters ([A-Za-z0-9_-], 144 bits)
// from crypto/rand.
func NewNonce() string {
	var b [nonceLen * 3 / 4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error()) // never on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// SignRequest signs r as a client: it sets the five HMAC headers for body,
// signed with secret at now and a fresh nonce. The path is
// r.URL.EscapedPath() ("/" when empty, as net/http sends it) and the query
// is r.URL.RawQuery, which is sent unchanged; it must not use '+' for a space
// (a '+' is signed as a literal plus sign). SignRequest does not touch the
// body: the caller sends exactly body. It fails only if the query has an
// invalid percent-encoding.
func SignRequest(r *http.Request, clientID, secret string, body []byte, now time.Time) error {
	cq, err := CanonicalQueryRaw(r.URL.RawQuery)
	if err != nil {
		return fmt.Errorf("sign request: %w", err)
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	nonce := NewNonce()
	contentHash := ContentSHA256(body)
	sig := Sign(secret, StringToSign(method, path, cq, ts, nonce, contentHash))

	if r.Header == nil {
		r.Header = make(http.Header)
	}
	r.Header.Set(HeaderClientID, clientID)
	r.Header.Set(HeaderTimestamp, ts)
	r.Header.Set(HeaderNonce, nonce)
	r.Header.Set(HeaderContentSHA256, contentHash)
	r.Header.Set(HeaderSignature, Version+"="+sig)
	return nil
}

func validClientID(s string) bool {
	if len(s) != clientIDLen {
		return false
	}
	if s[:len("ck_test_")] != "ck_test_" && s[:len("ck_live_")] != "ck_live_" {
		return false
	}
	for i := len("ck_test_"); i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func parseTimestamp(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func validNonce(s string) bool {
	if len(s) < minNonceLen || len(s) > maxNonceLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validVersion reports whether s can name a signature version: one or more
// ASCII letters or digits ("v1", "v2", ...).
func validVersion(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if _, ok := lowerHexVal(s[i]); !ok {
			return false
		}
	}
	return true
}

func lowerHexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// decodeLowerHex decodes s, already checked by isLowerHex, into dst.
func decodeLowerHex(dst []byte, s string) {
	for i := range dst {
		hi, _ := lowerHexVal(s[2*i])
		lo, _ := lowerHexVal(s[2*i+1])
		dst[i] = hi<<4 | lo
	}
}

// trimOWS trims the optional whitespace (spaces and tabs) HTTP allows around
// list items.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
