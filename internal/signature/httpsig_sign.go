package signature

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// SignBase signs an RFC 9421 signature base with priv: an ed25519.PrivateKey
// (alg ed25519) or a P-256 *ecdsa.PrivateKey (alg ecdsa-p256-sha256, r‖s).
func SignBase(priv crypto.Signer, base string) (alg string, sig []byte, err error) {
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		return AlgEd25519, ed25519.Sign(k, []byte(base)), nil
	case *ecdsa.PrivateKey:
		if k.Curve.Params().Name != "P-256" {
			return "", nil, errors.New("signature: only P-256 ECDSA keys sign")
		}
		digest := sha256.Sum256([]byte(base))
		r, s, err := ecdsa.Sign(rand.Reader, k, digest[:])
		if err != nil {
			return "", nil, fmt.Errorf("signature: sign: %w", err)
		}
		out := make([]byte, 64)
		r.FillBytes(out[:32])
		s.FillBytes(out[32:])
		return AlgECDSAP256, out, nil
	}
	return "", nil, errors.New("signature: the key must be Ed25519 or ECDSA P-256")
}

// SignMessage signs r as a client per RFC 9421 with the registered public
// key keyID's private half, at now, with a fresh nonce, under the label
// "sig1". It covers @method, @authority, @path and @query, and, when body is
// not empty, content-digest, setting Content-Digest (sha-256) itself. The
// caller sends exactly body.
func SignMessage(r *http.Request, keyID string, priv crypto.Signer, body []byte, now time.Time) error {
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	components := []string{"@method", "@authority", "@path", "@query"}
	if len(body) > 0 {
		r.Header.Set(HeaderContentDigest, ContentDigest(body))
		components = append(components, "content-digest")
	}
	alg := AlgEd25519
	if _, ok := priv.(*ecdsa.PrivateKey); ok {
		alg = AlgECDSAP256
	}
	m := sfMember{Name: "sig1", IsList: true}
	for _, c := range components {
		m.List = append(m.List, sfItem{Kind: sfString, Str: c})
		m.ListParams = append(m.ListParams, nil)
	}
	m.Params = []sfParam{
		{"created", sfItem{Kind: sfInteger, Num: now.Unix()}},
		{"nonce", sfItem{Kind: sfString, Str: NewNonce()}},
		{"keyid", sfItem{Kind: sfString, Str: keyID}},
		{"alg", sfItem{Kind: sfString, Str: alg}},
	}
	input := "sig1=" + string(appendInnerList(nil, &m))
	s, err := ParseMessageSignature(input, "sig1=:AA==:", len(body) > 0)
	if err != nil {
		return err
	}
	scheme := r.URL.Scheme
	if scheme == "" {
		scheme = "https"
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	base, err := s.Base(Message{
		Method: method, Scheme: scheme, Authority: Authority(host, scheme),
		Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
		Header: func(name string) (string, bool) {
			v := r.Header.Get(name)
			return v, v != ""
		},
	})
	if err != nil {
		return err
	}
	_, sig, err := SignBase(priv, base)
	if err != nil {
		return err
	}
	r.Header.Set(HeaderSignatureInput, input)
	r.Header.Set(HeaderMessageSig, "sig1="+string(appendItem(nil, sfItem{Kind: sfBytes, Bytes: sig})))
	return nil
}
