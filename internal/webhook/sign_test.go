package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

func TestNewSecret(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("two new secrets are equal")
	}
	for _, s := range []string{a, b} {
		if !strings.HasPrefix(s, SecretPrefix) {
			t.Fatalf("secret lacks the %q prefix", SecretPrefix)
		}
		key, err := DecodeSecret(s)
		if err != nil {
			t.Fatal(err)
		}
		if len(key) != 32 {
			t.Fatalf("decoded secret has %d bytes, want 32", len(key))
		}
		if _, err := standardwebhooks.NewWebhook(s); err != nil {
			t.Fatalf("the Standard Webhooks library refuses the secret: %v", err)
		}
	}
}

func TestDecodeSecret(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	enc := base64.StdEncoding.EncodeToString(raw)
	tests := []struct {
		name string
		in   string
		want []byte
	}{
		{"prefixed", SecretPrefix + enc, raw},
		{"bare base64", enc, raw},
		{"empty", "", nil},
		{"prefix only", SecretPrefix, nil},
		{"not base64", SecretPrefix + "not base64!", nil},
		{"url-safe alphabet", SecretPrefix + "-_-_", nil},
		{"missing padding", SecretPrefix + "YWJj" + "ZA", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeSecret(tt.in)
			if tt.want == nil {
				if !errors.Is(err, ErrInvalidSecret) {
					t.Fatalf("err = %v, want ErrInvalidSecret", err)
				}
				if tt.in != "" && tt.in != SecretPrefix && strings.Contains(err.Error(), tt.in) {
					t.Fatal("error message contains the secret")
				}
				return
			}
			if err != nil || !bytes.Equal(got, tt.want) {
				t.Fatalf("DecodeSecret = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// The test vector of the Standard Webhooks reference libraries.
func TestSignKnownVector(t *testing.T) {
	key, err := DecodeSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

func TestSignMatchesLibrary(t *testing.T) {
	secret := NewSecret()
	key, _ := DecodeSecret(secret)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	body := []byte(`{"type":"key.reset","timestamp":"2026-11-23T10:00:00Z","data":{}}`)
	want, err := wh.Sign("msg_1", ts, body)
	if err != nil {
		t.Fatal(err)
	}
	if got := Sign(key, "msg_1", ts, body); got != want {
		t.Fatalf("Sign = %s, library says %s", got, want)
	}
}

func TestSignatureVerifies(t *testing.T) {
	oldSecret, newSecret, otherSecret := NewSecret(), NewSecret(), NewSecret()
	oldKey, _ := DecodeSecret(oldSecret)
	newKey, _ := DecodeSecret(newSecret)
	const msgID = "msg_2Xk9"
	body := []byte(`{"type":"key.created","timestamp":"2026-11-23T10:00:00Z","data":{"key":{"id":"key_1"}}}`)

	tests := []struct {
		name     string
		signWith [][]byte
		verifier string // the secret the receiver holds
		body     []byte // the body the receiver gets
		ok       bool
	}{
		{"single signature", [][]byte{newKey}, newSecret, body, true},
		{"rotation, receiver holds new secret", [][]byte{newKey, oldKey}, newSecret, body, true},
		{"rotation, receiver holds old secret", [][]byte{newKey, oldKey}, oldSecret, body, true},
		{"rotation, receiver holds another secret", [][]byte{newKey, oldKey}, otherSecret, body, false},
		{"wrong secret", [][]byte{newKey}, oldSecret, body, false},
		{"tampered body", [][]byte{newKey}, newSecret, bytes.Replace(body, []byte("key_1"), []byte("key_2"), 1), false},
		{"rotation, tampered body", [][]byte{newKey, oldKey}, oldSecret, append(bytes.Clone(body), ' '), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := time.Now()
			sig := SignatureHeader(tt.signWith, msgID, ts, body)
			if n := len(strings.Fields(sig)); n != len(tt.signWith) {
				t.Fatalf("signature header %q has %d signatures, want %d", sig, n, len(tt.signWith))
			}
			wh, err := standardwebhooks.NewWebhook(tt.verifier)
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Verify(tt.body, Headers(msgID, ts, sig))
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok && !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Fatalf("Verify = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func TestSignatureCoversIDAndTimestamp(t *testing.T) {
	secret := NewSecret()
	key, _ := DecodeSecret(secret)
	wh, _ := standardwebhooks.NewWebhook(secret)
	ts := time.Now()
	body := []byte(`{}`)
	sig := Sign(key, "msg_1", ts, body)

	h := Headers("msg_2", ts, sig)
	if err := wh.Verify(body, h); err == nil {
		t.Error("a signature for another message id verifies")
	}
	h = Headers("msg_1", ts.Add(time.Second), sig)
	if err := wh.Verify(body, h); err == nil {
		t.Error("a signature for another timestamp verifies")
	}
}

func TestHeaders(t *testing.T) {
	secret := NewSecret()
	key, _ := DecodeSecret(secret)
	ts := time.Unix(1795000000, 0)
	sig := SignatureHeader([][]byte{key}, "msg_1", ts, []byte(`{}`))
	h := Headers("msg_1", ts, sig)

	want := map[string]string{
		"webhook-id":        "msg_1",
		"webhook-timestamp": strconv.FormatInt(ts.Unix(), 10),
		"webhook-signature": sig,
		"Content-Type":      "application/json",
		"User-Agent":        UserAgent,
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if len(h) != len(want) {
		t.Errorf("%d headers, want %d: %v", len(h), len(want), h)
	}
	assertNoSecret(t, h, secret)
}

// assertNoSecret fails if any header holds the secret, in either encoding.
func assertNoSecret(t *testing.T, h http.Header, secret string) {
	t.Helper()
	bare := strings.TrimPrefix(secret, SecretPrefix)
	for k, vs := range h {
		for _, v := range vs {
			if strings.Contains(v, bare) || strings.Contains(k, bare) {
				t.Errorf("header %s carries the signing secret", k)
			}
		}
	}
}
