package authz

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// A request presents exactly one credential: anything else is MALFORMED
// before any store is read, however good each credential is on its own.
func TestDecideOneCredential(t *testing.T) {
	tests := []struct {
		name string
		req  func(f *fixture) Request
	}{
		{"conflict flagged by the caller", func(f *fixture) Request {
			return Request{Bearer: f.secret, Conflict: true, Need: f.need}
		}},
		{"conflict beside a valid signature", func(f *fixture) Request {
			r := f.signed("nonce-0123456789abcdef")
			r.Conflict = true
			return r
		}},
		{"bearer and every signature header", func(f *fixture) Request {
			r := f.signed("nonce-0123456789abcdef")
			r.Bearer = f.secret
			return r
		}},
		{"bearer and X-Client-Id", func(f *fixture) Request {
			return Request{Bearer: f.secret, HMAC: signature.Headers{ClientID: f.k.ID}, Need: f.need}
		}},
		{"bearer and X-Timestamp", func(f *fixture) Request {
			return Request{Bearer: f.secret, HMAC: signature.Headers{Timestamp: "1795428000"}, Need: f.need}
		}},
		{"bearer and X-Nonce", func(f *fixture) Request {
			return Request{Bearer: f.secret, HMAC: signature.Headers{Nonce: "nonce-0123456789abcdef"}, Need: f.need}
		}},
		{"bearer and X-Content-SHA256", func(f *fixture) Request {
			return Request{Bearer: f.secret, HMAC: signature.Headers{ContentSHA256: signature.ContentSHA256(nil)}, Need: f.need}
		}},
		{"bearer and X-Signature", func(f *fixture) Request {
			return Request{Bearer: f.secret, HMAC: signature.Headers{Signature: "v1=00"}, Need: f.need}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			d, err := f.e.Decide(context.Background(), tt.req(f))
			if err != nil || d.Code != key.CodeMalformed || d.Key != nil {
				t.Fatalf("got %+v %v, want MALFORMED", d, err)
			}
			if n, s := f.keys.calls.Load(), f.secrets.calls.Load(); n != 0 || s != 0 {
				t.Errorf("%d key reads and %d secret reads for a malformed request", n, s)
			}
		})
	}
	// Without the conflict, each credential alone is valid.
	f := newFixture(t)
	if d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need}); err != nil || d.Code != key.CodeValid {
		t.Fatalf("bearer alone: %+v %v", d, err)
	}
}

type failingSecrets struct{ err error }

func (f failingSecrets) Get(context.Context, string, string) (string, error) { return "", f.err }

type failingNonces struct{ err error }

func (f failingNonces) UseNonce(context.Context, string, string, time.Time, time.Time) (bool, error) {
	return false, f.err
}

// A store outage is an error naming the store, with its own code: never a
// VALID, and never a wrong secret, bad signature or replayed nonce.
func TestDecideStoreOutage(t *testing.T) {
	outage := errors.New("connection refused")
	tests := []struct {
		name   string
		breaks func(f *fixture)
		req    func(f *fixture) Request
		store  string
	}{
		{"keys, bearer", func(f *fixture) { f.keys.err = outage },
			func(f *fixture) Request { return Request{Bearer: f.secret, Need: f.need} }, StoreKeys},
		{"keys, signed", func(f *fixture) { f.keys.err = outage },
			func(f *fixture) Request { return f.signed("nonce-0123456789abcdef") }, StoreKeys},
		{"secrets, signed", func(f *fixture) { f.e.secrets = failingSecrets{outage} },
			func(f *fixture) Request { return f.signed("nonce-0123456789abcdef") }, StoreSecrets},
		{"nonces, signed", func(f *fixture) { f.e.nonces = failingNonces{outage} },
			func(f *fixture) Request { return f.signed("nonce-0123456789abcdef") }, StoreNonces},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			tt.breaks(f)
			d, err := f.e.Decide(context.Background(), tt.req(f))
			var se *StoreError
			if !errors.As(err, &se) || se.Store != tt.store || !errors.Is(err, outage) {
				t.Fatalf("error = %v, want a %s StoreError wrapping the outage", err, tt.store)
			}
			if d.Code != CodeStoreUnavailable || d.Key != nil {
				t.Fatalf("decision = %+v, want %s and no key", d, CodeStoreUnavailable)
			}
			if d.ClientID != f.k.ID {
				t.Errorf("client ID = %q, want %q for the log", d.ClientID, f.k.ID)
			}
		})
	}
}

// A secret that was destroyed (not an outage) still just fails to prove.
func TestDecideDestroyedSecretIsNotAnOutage(t *testing.T) {
	f := newFixture(t)
	f.secrets.values = map[string]string{}
	d, err := f.e.Decide(context.Background(), f.signed("nonce-0123456789abcdef"))
	if err != nil || d.Code != key.CodeSignatureInvalid {
		t.Fatalf("got %+v %v, want SIGNATURE_INVALID", d, err)
	}
}
