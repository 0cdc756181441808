package authz

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// sigFixture is a key that may sign with two registered public keys, an
// Ed25519 one and, rotated in beside it, a P-256 one.
type sigFixture struct {
	*fixture
	ed, ec       crypto.Signer
	edID, ecID   string
	now          time.Time
	body         []byte
	method, path string
	rawQuery     string
}

func newSigFixture(t *testing.T) *sigFixture {
	f := &sigFixture{fixture: newFixture(t), body: []byte(`{"amount":1000}`), method: "POST", path: "/demo/charges", rawQuery: "b=2&a=1"}
	f.now = f.e.Now()
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.ed, f.ec = edPriv, ecPriv
	k := f.k
	k.AuthModes = []key.AuthMode{key.ModeSignature}
	for _, pub := range []crypto.PublicKey{edPriv.Public(), ecPriv.Public()} {
		var p key.PublicKey
		switch pk := pub.(type) {
		case ed25519.PublicKey:
			p = key.PublicKey{Alg: key.AlgEd25519, X: pk}
		case *ecdsa.PublicKey:
			raw, _ := pk.Bytes()
			p = key.PublicKey{Alg: key.AlgECDSAP256, X: raw[1:33], Y: raw[33:]}
		}
		n, added, err := k.AddPublicKey(p, f.now)
		if err != nil {
			t.Fatal(err)
		}
		k = n
		if p.Alg == key.AlgEd25519 {
			f.edID = added.ID
		} else {
			f.ecID = added.ID
		}
	}
	f.k = k
	f.keys.keys[k.ID] = k
	return f
}

// request signs a request as a client would, with SignMessage, at the
// fixture's time plus skew, and returns what the authorizer would pass on.
func (f *sigFixture) request(t *testing.T, keyID string, priv crypto.Signer, skew time.Duration) (Request, *http.Request) {
	t.Helper()
	r, err := http.NewRequest(f.method, "https://api.example.com"+f.path+"?"+f.rawQuery, bytes.NewReader(f.body))
	if err != nil {
		t.Fatal(err)
	}
	if err := signature.SignMessage(r, keyID, priv, f.body, f.now.Add(skew)); err != nil {
		t.Fatal(err)
	}
	return f.toRequest(r), r
}

func (f *sigFixture) toRequest(r *http.Request) Request {
	return Request{
		SignatureInput:   r.Header.Get(signature.HeaderSignatureInput),
		MessageSignature: r.Header.Get(signature.HeaderMessageSig),
		Message: signature.Message{
			Method: r.Method, Scheme: "https", Authority: signature.Authority(r.URL.Host, "https"),
			Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Header: func(name string) (string, bool) {
				vs := r.Header.Values(name)
				return strings.Join(vs, ", "), len(vs) > 0
			},
		},
		HasBody: len(f.body) > 0 || r.Header.Get(signature.HeaderContentDigest) != "",
		Need:    f.need,
	}
}

func TestDecidePublicSignature(t *testing.T) {
	ctx := context.Background()
	f := newSigFixture(t)

	for name, c := range map[string]struct {
		keyID string
		priv  crypto.Signer
	}{"ed25519": {f.edID, f.ed}, "p-256, the second key during rotation": {f.ecID, f.ec}} {
		t.Run(name, func(t *testing.T) {
			r, _ := f.request(t, c.keyID, c.priv, 0)
			d, err := f.e.Decide(ctx, r)
			if err != nil || d.Code != key.CodeValid || d.Mode != key.ModeSignature || d.Key == nil || d.SecretVersion != 0 || d.PublicKeyID != c.keyID {
				t.Fatalf("decision %+v, err %v", d, err)
			}
			if d, _ := f.e.Decide(ctx, r); d.Code != key.CodeNonceReused {
				t.Fatalf("the same request again: %s, want NONCE_REUSED", d.Code)
			}
		})
	}
	if f.secrets.calls.Load() != 0 {
		t.Fatalf("the secret store was read %d times for signatures made with public keys", f.secrets.calls.Load())
	}
}

// Each decision code a public-key signature can get, and tampering with
// every covered component.
func TestDecidePublicSignatureRefusals(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		change func(t *testing.T, f *sigFixture) Request
		want   key.Code
	}{
		{"method tampered", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Message.Method = "PUT"
			return r
		}, key.CodeSignatureInvalid},
		{"path tampered", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Message.Path = "/demo/refunds"
			return r
		}, key.CodeSignatureInvalid},
		{"query tampered", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Message.Query = "b=2&a=100"
			return r
		}, key.CodeSignatureInvalid},
		{"query reordered", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.ecID, f.ec, 0)
			r.Message.Query = "a=1&b=2"
			return r
		}, key.CodeSignatureInvalid},
		{"authority tampered", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Message.Authority = "evil.example.com"
			return r
		}, key.CodeSignatureInvalid},
		{"content-digest tampered", func(t *testing.T, f *sigFixture) Request {
			_, hr := f.request(t, f.edID, f.ed, 0)
			hr.Header.Set(signature.HeaderContentDigest, signature.ContentDigest([]byte(`{"amount":9999}`)))
			return f.toRequest(hr)
		}, key.CodeSignatureInvalid},
		{"signature bytes flipped", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.ecID, f.ec, 0)
			r.MessageSignature = strings.Replace(r.MessageSignature, "sig1=:", "sig1=:AA", 1)
			return r
		}, key.CodeSignatureInvalid},
		{"a body, no content-digest covered", func(t *testing.T, f *sigFixture) Request {
			f.body = nil
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.HasBody = true // Content-Length above 0
			return r
		}, key.CodeMalformed},
		{"content-digest covered but absent", func(t *testing.T, f *sigFixture) Request {
			_, hr := f.request(t, f.edID, f.ed, 0)
			hr.Header.Del(signature.HeaderContentDigest)
			return f.toRequest(hr)
		}, key.CodeMalformed},
		{"no nonce", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			i := strings.Index(r.SignatureInput, ";nonce=")
			j := strings.Index(r.SignatureInput, ";keyid=")
			r.SignatureInput = r.SignatureInput[:i] + r.SignatureInput[j:]
			return r
		}, key.CodeMalformed},
		{"signature headers beside a bearer secret", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Bearer = f.secret
			return r
		}, key.CodeMalformed},
		{"signature headers beside HMAC headers", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.HMAC = f.signed("nonce-0123456789abcdef").HMAC
			return r
		}, key.CodeMalformed},
		{"created too old", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, -301*time.Second)
			return r
		}, key.CodeTimestampWindow},
		{"created too far ahead", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 301*time.Second)
			return r
		}, key.CodeTimestampWindow},
		{"unknown keyid of our shape", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, key.NewPublicKeyID("ck_test_0000000000000000000000"), f.ed, 0)
			return r
		}, key.CodeSignatureInvalid},
		{"keyid not ours", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, "test-key-ed25519", f.ed, 0)
			return r
		}, key.CodeSignatureInvalid},
		{"another registered key's keyid, other alg", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.ecID, f.ed, 0)
			return r
		}, key.CodeSignatureInvalid},
		{"deleted public key", func(t *testing.T, f *sigFixture) Request {
			n, _ := f.k.RemovePublicKey(f.edID, f.now)
			f.keys.keys[n.ID] = n
			r, _ := f.request(t, f.edID, f.ed, 0)
			return r
		}, key.CodeSignatureInvalid},
		{"revoked key", func(t *testing.T, f *sigFixture) Request {
			f.keys.keys[f.k.ID] = f.k.Revoke(f.now)
			r, _ := f.request(t, f.edID, f.ed, 0)
			return r
		}, key.CodeSignatureInvalid},
		{"mode not allowed", func(t *testing.T, f *sigFixture) Request {
			k := f.k.Clone()
			k.AuthModes = []key.AuthMode{key.ModeBearer, key.ModeHMAC}
			f.keys.keys[k.ID] = k
			r, _ := f.request(t, f.edID, f.ed, 0)
			return r
		}, key.CodeModeNotAllowed},
		{"disabled key", func(t *testing.T, f *sigFixture) Request {
			k := f.k.Clone()
			k.Status = key.StatusDisabled
			f.keys.keys[k.ID] = k
			r, _ := f.request(t, f.edID, f.ed, 0)
			return r
		}, key.CodeDisabled},
		{"wrong environment", func(t *testing.T, f *sigFixture) Request {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Need.Environment = key.EnvLive
			return r
		}, key.CodeEnvMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newSigFixture(t)
			d, err := f.e.Decide(ctx, c.change(t, f))
			if err != nil || d.Code != c.want {
				t.Fatalf("code %s err %v, want %s", d.Code, err, c.want)
			}
			if d.Code.Unproven() != (c.want != key.CodeModeNotAllowed && c.want != key.CodeDisabled && c.want != key.CodeEnvMismatch) {
				t.Fatalf("%s: 401 and 403 mixed up", d.Code)
			}
		})
	}
}

// A store that cannot be read is an error, never an Allow.
func TestDecidePublicSignatureStoreDown(t *testing.T) {
	f := newSigFixture(t)
	f.keys.err = errors.New("connection refused")
	r, _ := f.request(t, f.edID, f.ed, 0)
	d, err := f.e.Decide(context.Background(), r)
	var se *StoreError
	if !errors.As(err, &se) || d.Code != CodeStoreUnavailable {
		t.Fatalf("code %s err %v", d.Code, err)
	}
}

// An HTTP API passes the path decoded: a signature over the path as the
// client sent it, percent-encoded, is proven through its forms, and one
// over some other path is not.
func TestDecidePublicSignaturePathAsSent(t *testing.T) {
	ctx := context.Background()
	f := newSigFixture(t)
	f.path = "/demo/caf%C3%A9%20au%20lait"
	decoded := "/demo/café au lait"
	for _, tt := range []struct {
		name  string
		forms []string
		want  key.Code
	}{
		{"with the path's forms", signature.PathForms(decoded), key.CodeValid},
		{"decoded path alone", nil, key.CodeSignatureInvalid},
		{"forms of another path", signature.PathForms("/demo/café au laiT"), key.CodeSignatureInvalid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := f.request(t, f.edID, f.ed, 0)
			r.Message.Path, r.PathForms = decoded, tt.forms
			if d, err := f.e.Decide(ctx, r); err != nil || d.Code != tt.want {
				t.Fatalf("decision %s, err %v; want %s", d.Code, err, tt.want)
			}
		})
	}
}

// An HTTP API joins a repeated header's values with ",": a signature label
// that comes twice with different values is one header repeated with
// different values (MALFORMED), whichever comes last; the same value twice
// is one signature.
func TestDecidePublicSignatureRepeatedLabel(t *testing.T) {
	ctx := context.Background()
	f := newSigFixture(t)
	label, _, _ := strings.Cut(mustRequest(t, f).MessageSignature, "=")
	forged := label + "=:" + base64.StdEncoding.EncodeToString(make([]byte, ed25519.SignatureSize)) + ":"
	for _, tt := range []struct {
		name  string
		build func(r *Request)
		want  key.Code
	}{
		{"a forged value first", func(r *Request) { r.MessageSignature = forged + ", " + r.MessageSignature }, key.CodeMalformed},
		{"a forged value last", func(r *Request) { r.MessageSignature += "," + forged }, key.CodeMalformed},
		{"Signature-Input twice, differing", func(r *Request) {
			r.SignatureInput = strings.Replace(r.SignatureInput, `"@method"`, `"@method" "@scheme"`, 1) + ", " + r.SignatureInput
		}, key.CodeMalformed},
		{"the same value twice", func(r *Request) {
			r.MessageSignature += ", " + r.MessageSignature
			r.SignatureInput += ", " + r.SignatureInput
		}, key.CodeValid},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := mustRequest(t, f)
			tt.build(&r)
			if d, err := f.e.Decide(ctx, r); err != nil || d.Code != tt.want {
				t.Fatalf("decision %s, err %v; want %s", d.Code, err, tt.want)
			}
		})
	}
}

func mustRequest(t *testing.T, f *sigFixture) Request {
	t.Helper()
	r, _ := f.request(t, f.edID, f.ed, 0)
	return r
}
