package leakreport

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
)

func newKey(t *testing.T, curve elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return priv
}

func TestParseKeys(t *testing.T) {
	one, err := KeyConfig("k1", &newKey(t, elliptic.P256()).PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	two, _ := KeyConfig("k2", &newKey(t, elliptic.P256()).PublicKey)
	p384, _ := KeyConfig("k3", &newKey(t, elliptic.P384()).PublicKey)
	for _, c := range []struct {
		name, in string
		n        int
		wantErr  string
	}{
		{"unset", "", 0, ""},
		{"empty", "[]", 0, ""},
		{"two", "[" + one + "," + two + "]", 2, ""},
		{"not JSON", "{", 0, "JSON array"},
		{"no identifier", `[{"key":"x"}]`, 0, "no key_identifier"},
		{"twice", "[" + one + "," + one + "]", 0, "given twice"},
		{"not PEM", `[{"key_identifier":"a","key":"MFkw"}]`, 0, "PEM"},
		{"not P-256", "[" + p384 + "]", 0, "P-256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			keys, err := ParseKeys(c.in)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, c.wantErr)
				}
				return
			}
			if err != nil || len(keys) != c.n {
				t.Fatalf("ParseKeys = %d keys, %v; want %d", len(keys), err, c.n)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	priv, other := newKey(t, elliptic.P256()), newKey(t, elliptic.P256())
	cfg, _ := KeyConfig("gh-1", &priv.PublicKey)
	keys, err := ParseKeys("[" + cfg + "]")
	if err != nil {
		t.Fatal(err)
	}
	body := []byte(`[{"token":"x","type":"t","url":"u","source":"content"}]`)
	good, _ := Sign(priv, body)
	wrong, _ := Sign(other, body)
	if err := keys.Verify("gh-1", good, body); err != nil {
		t.Fatalf("a good signature: %v", err)
	}
	for _, c := range []struct{ name, id, sig, body string }{
		{"no identifier", "", good, string(body)},
		{"unknown identifier", "gh-2", good, string(body)},
		{"no signature", "gh-1", "", string(body)},
		{"not base64", "gh-1", "%%%", string(body)},
		{"another key's", "gh-1", wrong, string(body)},
		{"tampered body", "gh-1", good, strings.Replace(string(body), `"x"`, `"y"`, 1)},
		{"body with a trailing newline", "gh-1", good, string(body) + "\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := keys.Verify(c.id, c.sig, []byte(c.body)); !errors.Is(err, ErrSignature) {
				t.Fatalf("Verify = %v, want ErrSignature", err)
			}
		})
	}
	if err := (Keys{}).Verify("gh-1", good, body); !errors.Is(err, ErrSignature) {
		t.Fatalf("no keys configured: %v", err)
	}
}
