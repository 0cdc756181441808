package key

import (
	"strings"
	"testing"
)

func TestRedactSecrets(t *testing.T) {
	sk := DefaultBrand.NewSecret(NewClientID(EnvLive))
	tail := sk[len("paykeys_sk_live_"):]
	acme := Brand("acme").NewSecret(NewClientID(EnvTest))
	cases := []struct{ in, want string }{
		{"GET /v1/keys/" + sk, "GET /v1/keys/" + Redacted},
		{"/v1/keys?cursor=" + sk + "&limit=2", "/v1/keys?cursor=" + Redacted + "&limit=2"},
		{sk + " and acme_sk_test_Abc123", Redacted + " and " + Redacted},
		{"another brand: " + acme, "another brand: " + Redacted},
		{"the old form: sk_live_" + tail, "the old form: " + Redacted},
		{"x=sk_live_ZZZ", "x=" + Redacted},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/d+e3== tail", Redacted + " tail"},
		{"/demo/whsec_ab%2Bc%2Fd%3D", "/demo/" + Redacted},
		{"ck_test_5Vq0000000000000000000 is public", "ck_test_5Vq0000000000000000000 is public"},
		{"task_sk_other", "task_sk_other"},
		{"/v1/keys/sk%5Ftest%5F" + tail, "/v1/keys/" + Redacted},
		{"/v1/keys/paykeys%5Fsk%5Flive%5F" + tail, "/v1/keys/" + Redacted},
		{"/demo/x?q=paykeys%5fsk%5flive%5f" + tail + "&a=1", "/demo/x?q=" + Redacted + "&a=1"},
		{"/demo/SK_TEST_" + tail, "/demo/" + Redacted},
		{"/demo/PAYKEYS_SK_TEST_" + tail, "/demo/" + Redacted},
		{"POST " + strings.ToUpper(sk), "POST " + Redacted},
		{"sk%5Fother", "sk%5Fother"},
		{"desk_test_", "desk_test_"},
		{"nothing here", "nothing here"},
	}
	for _, c := range cases {
		if got := RedactSecrets(c.in); got != c.want {
			t.Errorf("RedactSecrets(%q) = %q, want %q", c.in, got, c.want)
		}
		if SecretShaped(c.in) != (c.in != c.want) {
			t.Errorf("SecretShaped(%q) = %v", c.in, SecretShaped(c.in))
		}
	}
}

func TestEchoableID(t *testing.T) {
	sk := DefaultBrand.NewSecret(NewClientID(EnvTest))
	cases := []struct {
		s  string
		ok bool
	}{
		{NewClientID(EnvTest), true},
		{NewID("we_"), true},
		{NewID("msg_"), true},
		{NewID("aud_"), true},
		{sk, false},
		{"we_" + sk[len("paykeys_sk_test_"):][:27], true}, // base62 of the right length is an ID shape, whatever its origin
		{"ck_test_x", false},
		{"sk_" + strings.Repeat("a", 27), false},
		{"we_" + strings.Repeat("a", 26) + "!", false},
		{"../../etc/passwd", false},
		{"", false},
	}
	for _, c := range cases {
		if got := EchoableID(c.s); got != c.ok {
			t.Errorf("EchoableID(%q) = %v, want %v", c.s, got, c.ok)
		}
	}
}
