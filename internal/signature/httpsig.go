package signature

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// RFC 9421 HTTP Message Signatures made with a registered public key (README:
// Signing with a registered public key), and RFC 9530 Content-Digest. The
// authorizer's order of checks is:
//
//	s, err := signature.ParseMessageSignature(sigInput, sig, hasBody) // shapes; err wraps ErrMalformed
//	base, err := s.Base(msg)                                            // a covered header missing: ErrMalformed
//	s.InWindow(now) && signature.VerifyPublic(alg, x, y, base, s.Signature)
//	// and only then spend the nonce

// Header names of RFC 9421 and RFC 9530.
const (
	HeaderSignatureInput = "Signature-Input"
	HeaderMessageSig     = "Signature"
	HeaderContentDigest  = "Content-Digest"
)

// Algorithm names, as the alg parameter carries them.
const (
	AlgEd25519   = "ed25519"
	AlgECDSAP256 = "ecdsa-p256-sha256"
)

// RequiredComponents must be covered by every signature; content-digest too
// whenever the request has a body.
var RequiredComponents = []string{"@method", "@authority", "@path", "@query"}

// MessageSignature is a parsed Signature-Input and Signature pair: one label,
// its covered components and parameters, and the signature bytes. Nothing in
// it has been checked against a clock or a key yet.
type MessageSignature struct {
	Label      string
	Components []string // covered component names, in order (lowercase)
	Created    int64
	Expires    int64 // 0: none
	Nonce      string
	KeyID      string
	Alg        string
	Signature  []byte
	params     string  // the serialized inner list: the @signature-params value
	has        [4]bool // created, nonce, keyid, alg were present
}

var (
	errSigMissing    = &detailed{ErrMalformed, ": Signature-Input and Signature are both required"}
	errSigSyntax     = &detailed{ErrMalformed, ": Signature-Input or Signature is not a valid structured field"}
	errSigLabels     = &detailed{ErrMalformed, ": Signature-Input and Signature must carry exactly one, the same, label"}
	errSigShape      = &detailed{ErrMalformed, ": Signature-Input must be an inner list of strings and Signature a byte sequence"}
	errSigComponent  = &detailed{ErrMalformed, ": a covered component is repeated, has parameters, or is not supported"}
	errSigRequired   = &detailed{ErrMalformed, ": a required covered component is missing"}
	errSigParam      = &detailed{ErrMalformed, ": created, nonce, keyid and alg are required, of the right types"}
	errSigNonce      = &detailed{ErrMalformed, ": nonce must be 16..64 characters of [A-Za-z0-9_-]"}
	errSigCovered    = &detailed{ErrMalformed, ": a covered header is absent"}
	errContentDigest = &detailed{ErrMalformed, ": Content-Digest must list only sha-256 or sha-512 digests"}
)

// MessagePresent reports whether a request carries either RFC 9421 header.
func MessagePresent(sigInput, sig string) bool { return sigInput != "" || sig != "" }

// ParseMessageSignature parses the two headers and checks every shape the
// contract fixes: one label present in both, covered components that are
// unparameterised strings naming derived components we know or header
// fields, the required components (content-digest too when hasBody), the
// required parameters (created and expires integers, nonce, keyid and alg
// strings), and the nonce's shape. Every failure wraps ErrMalformed.
func ParseMessageSignature(sigInput, sig string, hasBody bool) (*MessageSignature, error) {
	s, err := parseSignatureHeaders(sigInput, sig)
	if err != nil {
		return nil, err
	}
	required := RequiredComponents
	if hasBody {
		required = append(required[:len(required):len(required)], "content-digest")
	}
	for _, r := range required {
		if !s.Covers(r) {
			return nil, fmt.Errorf("%w (%s)", errSigRequired, r)
		}
	}
	if !s.has[0] || !s.has[1] || !s.has[2] || !s.has[3] {
		return nil, errSigParam
	}
	if !validNonce(s.Nonce) {
		return nil, errSigNonce
	}
	return s, nil
}

// parseSignatureHeaders reads one labelled signature as RFC 9421 defines it,
// without this service's requirements: parameters of the wrong type are
// refused, absent ones noted in has.
func parseSignatureHeaders(sigInput, sig string) (*MessageSignature, error) {
	if sigInput == "" || sig == "" {
		return nil, errSigMissing
	}
	// A label twice with different values is a header repeated with
	// different values: malformed, whichever came last.
	in, ok1 := parseDictionary(sigInput)
	sg, ok2 := parseDictionary(sig)
	if !ok1 || !ok2 {
		return nil, errSigSyntax
	}
	if len(in) != 1 || len(sg) != 1 || in[0].Name != sg[0].Name {
		return nil, errSigLabels
	}
	m, v := &in[0], &sg[0]
	if !m.IsList || v.IsList || v.Item.Kind != sfBytes {
		return nil, errSigShape
	}
	s := &MessageSignature{Label: m.Name, Signature: v.Item.Bytes}
	for i, it := range m.List {
		if it.Kind != sfString || len(m.ListParams[i]) > 0 || !knownComponent(it.Str) || s.Covers(it.Str) {
			return nil, errSigComponent
		}
		s.Components = append(s.Components, it.Str)
	}
	for _, p := range m.Params {
		switch p.Name {
		case "created", "expires":
			if p.Value.Kind != sfInteger || p.Value.Num < 0 {
				return nil, errSigParam
			}
			if p.Name == "created" {
				s.Created, s.has[0] = p.Value.Num, true
			} else {
				s.Expires = p.Value.Num
			}
		case "nonce", "keyid", "alg":
			if p.Value.Kind != sfString {
				return nil, errSigParam
			}
			switch p.Name {
			case "nonce":
				s.Nonce, s.has[1] = p.Value.Str, true
			case "keyid":
				s.KeyID, s.has[2] = p.Value.Str, true
			default:
				s.Alg, s.has[3] = p.Value.Str, true
			}
		}
	}
	s.params = string(appendInnerList(nil, m))
	return s, nil
}

// Covers reports whether the signature covers the component name.
func (s *MessageSignature) Covers(name string) bool {
	for _, c := range s.Components {
		if c == name {
			return true
		}
	}
	return false
}

// knownComponent: the derived components Base can compute, or a header
// field name (lowercase token characters).
func knownComponent(name string) bool {
	switch name {
	case "@method", "@authority", "@path", "@query", "@scheme", "@target-uri", "@request-target":
		return true
	}
	if name == "" || name[0] == '@' {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// Message is the request as the verifier sees it, in RFC 9421's terms.
type Message struct {
	Method    string // as sent
	Scheme    string // "https" or "http"
	Authority string // Authority(host, scheme)
	Path      string // as the client sent it, "/" when empty
	Query     string // the raw query as sent, without '?'
	// Header returns a header field's value (several lines joined with ", ",
	// each trimmed), and false when the request does not carry it.
	Header func(name string) (string, bool)
}

// Authority is RFC 9421's @authority: the Host as sent, lowercased, its port
// dropped when it is the scheme's default.
func Authority(host, scheme string) string {
	h := strings.ToLower(host)
	switch {
	case scheme == "https" && strings.HasSuffix(h, ":443"):
		return h[:len(h)-4]
	case scheme == "http" && strings.HasSuffix(h, ":80"):
		return h[:len(h)-3]
	}
	return h
}

// Base is the signature base of RFC 9421 §2.5: one line per covered
// component, `"name": value`, and the @signature-params line, joined by "\n"
// with no trailing newline. A covered header the request does not carry is
// ErrMalformed, as is a value with a line break.
func (s *MessageSignature) Base(m Message) (string, error) {
	var b strings.Builder
	for _, c := range s.Components {
		v, ok := componentValue(c, m)
		if !ok {
			return "", fmt.Errorf("%w (%s)", errSigCovered, c)
		}
		if strings.ContainsAny(v, "\r\n") {
			return "", errSigCovered
		}
		b.WriteByte('"')
		b.WriteString(c)
		b.WriteString(`": `)
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(s.params)
	return b.String(), nil
}

func componentValue(name string, m Message) (string, bool) {
	path := m.Path
	if path == "" {
		path = "/"
	}
	switch name {
	case "@method":
		return m.Method, true
	case "@authority":
		return m.Authority, true
	case "@scheme":
		return m.Scheme, true
	case "@path":
		return path, true
	case "@query":
		return "?" + m.Query, true
	case "@request-target":
		if m.Query != "" {
			return path + "?" + m.Query, true
		}
		return path, true
	case "@target-uri":
		u := m.Scheme + "://" + m.Authority + path
		if m.Query != "" {
			u += "?" + m.Query
		}
		return u, true
	}
	if m.Header == nil {
		return "", false
	}
	return m.Header(name)
}

// Window applies to created as it does to X-Timestamp.

// InWindow reports whether created is within ±Window of now and expires, if
// present, has not passed.
func (s *MessageSignature) InWindow(now time.Time) bool {
	d := now.Unix() - s.Created
	w := int64(Window / time.Second)
	if d < -w || d > w {
		return false
	}
	return s.Expires == 0 || now.Unix() < s.Expires
}

// VerifyPublic verifies sig over base with a public key given by its JWK
// coordinates: Ed25519 (x, 32 bytes) or ECDSA P-256 with SHA-256 (x and y,
// 32 bytes each; sig is r‖s, 64 bytes, per RFC 9421 §3.3.4).
func VerifyPublic(alg string, x, y []byte, base string, sig []byte) bool {
	switch alg {
	case AlgEd25519:
		if len(x) != ed25519.PublicKeySize || len(sig) != ed25519.SignatureSize {
			return false
		}
		return ed25519.Verify(ed25519.PublicKey(x), []byte(base), sig)
	case AlgECDSAP256:
		if len(x) != 32 || len(y) != 32 || len(sig) != 64 {
			return false
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
		if err != nil {
			return false
		}
		digest := sha256.Sum256([]byte(base))
		r, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(pub, digest[:], r, ss)
	}
	return false
}

// ErrDigestMismatch: a Content-Digest that does not match the body.
var ErrDigestMismatch = errors.New("signature: Content-Digest does not match the body")

// CheckContentDigest checks an RFC 9530 Content-Digest against body: it must
// list at least one digest, only sha-256 and sha-512, and every one must
// match. A header of another shape is ErrMalformed; a digest that does not
// match, ErrDigestMismatch.
func CheckContentDigest(header string, body []byte) error {
	ds, ok := parseContentDigest(header)
	if !ok {
		return errContentDigest
	}
	for _, d := range ds {
		var sum []byte
		if d.Name == "sha-256" {
			s := sha256.Sum256(body)
			sum = s[:]
		} else {
			s := sha512.Sum512(body)
			sum = s[:]
		}
		if subtle.ConstantTimeCompare(sum, d.Item.Bytes) != 1 {
			return ErrDigestMismatch
		}
	}
	return nil
}

// ValidContentDigest reports whether a Content-Digest has a shape
// CheckContentDigest accepts, without a body to compare with.
func ValidContentDigest(header string) bool {
	_, ok := parseContentDigest(header)
	return ok
}

// parseContentDigest reads a Content-Digest whose every member is a sha-256
// or sha-512 digest of the right length; there must be at least one, and an
// algorithm listed twice (a repeated header) must list the same digest.
func parseContentDigest(header string) ([]sfMember, bool) {
	ds, ok := parseDictionary(header)
	if !ok || len(ds) == 0 {
		return nil, false
	}
	for _, d := range ds {
		if d.IsList || d.Item.Kind != sfBytes {
			return nil, false
		}
		if !(d.Name == "sha-256" && len(d.Item.Bytes) == sha256.Size || d.Name == "sha-512" && len(d.Item.Bytes) == sha512.Size) {
			return nil, false
		}
	}
	return ds, true
}

// ContentDigest returns the RFC 9530 Content-Digest of body with sha-256.
func ContentDigest(body []byte) string {
	s := sha256.Sum256(body)
	return "sha-256=" + string(appendItem(nil, sfItem{Kind: sfBytes, Bytes: s[:]}))
}
