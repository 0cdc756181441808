package key

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func TestParseScopesAndGrants(t *testing.T) {
	bad := []string{"", "payments", "payments:", ":read", "Payments:read", "pay ments:read", "a:b:c", "*:read"}
	for _, s := range bad {
		if _, err := ParseScopes([]string{s}); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseScopes(%q) err = %v, want invalid", s, err)
		}
	}
	got, err := ParseScopes([]string{"payments:read", "payments:read", "refunds:*"})
	if err != nil || len(got) != 2 {
		t.Fatalf("ParseScopes = %v, %v", got, err)
	}
	cases := []struct {
		granted  []string
		required string
		want     bool
	}{
		{nil, "payments:read", false},
		{[]string{}, "payments:read", false},
		{[]string{"payments:read"}, "payments:read", true},
		{[]string{"payments:read"}, "payments:write", false},
		{[]string{"payments:*"}, "payments:write", true},
		{[]string{"payment:*"}, "payments:write", false},
		{[]string{"paymentsx:*"}, "payments:write", false},
		{[]string{"*"}, "anything:at_all", true},
		{[]string{"refunds:read"}, "", true},
	}
	for _, c := range cases {
		if got := Grants(c.granted, c.required); got != c.want {
			t.Errorf("Grants(%v, %q) = %v, want %v", c.granted, c.required, got, c.want)
		}
	}
}

func TestParseAllowedIPs(t *testing.T) {
	cases := []struct {
		in      string
		want    string
		invalid bool
	}{
		{in: "203.0.113.0/24", want: "203.0.113.0/24"},
		{in: "203.0.113.7", want: "203.0.113.7/32"},
		{in: "2001:db8::/32", want: "2001:db8::/32"},
		{in: "2001:DB8:0:0::1", want: "2001:db8::1/128"},
		{in: "::ffff:10.0.0.1", want: "10.0.0.1/32"},
		{in: "203.0.113.7/24", invalid: true},
		{in: "2001:db8::1/32", invalid: true},
		{in: "300.1.1.1", invalid: true},
		{in: "10.0.0.0/33", invalid: true},
		{in: "fe80::1%eth0", invalid: true},
		{in: "example.com", invalid: true},
		{in: "", invalid: true},
	}
	for _, c := range cases {
		got, err := ParseAllowedIPs([]string{c.in})
		if c.invalid {
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseAllowedIPs(%q) err = %v, want invalid", c.in, err)
			}
			continue
		}
		if err != nil || got[0].String() != c.want {
			t.Errorf("ParseAllowedIPs(%q) = %v, %v; want %s", c.in, got, err, c.want)
		}
	}
	allow, _ := ParseAllowedIPs([]string{"203.0.113.0/24", "2001:db8::/32"})
	for addr, want := range map[string]bool{
		"203.0.113.9": true, "203.0.114.1": false, "2001:db8::5": true,
		"2001:db9::5": false, "::ffff:203.0.113.9": true,
	} {
		if got := IPAllowed(allow, netip.MustParseAddr(addr)); got != want {
			t.Errorf("IPAllowed(%s) = %v, want %v", addr, got, want)
		}
	}
	if !IPAllowed(nil, netip.MustParseAddr("198.51.100.1")) {
		t.Error("an empty allowlist must allow any address")
	}
}

func newKey(t *testing.T, p NewParams) Issued {
	t.Helper()
	if p.Name == "" {
		p.Name = "checkout"
	}
	if p.Environment == "" {
		p.Environment = EnvTest
	}
	iss, err := New(p, "v1", t0)
	if err != nil {
		t.Fatal(err)
	}
	return iss
}

func TestNewValidates(t *testing.T) {
	past := t0.Add(-time.Second)
	days := 0
	long := string(make([]rune, 101))
	cases := map[string]NewParams{
		"empty name":        {Name: "", Environment: EnvTest},
		"long name":         {Name: long, Environment: EnvTest},
		"control char":      {Name: "a\nb", Environment: EnvTest},
		"bad env":           {Name: "x", Environment: "prod"},
		"bad currency":      {Name: "x", Environment: EnvTest, Currency: "gold"},
		"bad scope":         {Name: "x", Environment: EnvTest, Scopes: []string{"x"}},
		"bad cidr":          {Name: "x", Environment: EnvTest, AllowedIPs: []string{"10.0.0.1/8"}},
		"empty auth modes":  {Name: "x", Environment: EnvTest, AuthModes: []string{}},
		"unknown auth mode": {Name: "x", Environment: EnvTest, AuthModes: []string{"basic"}},
		"past expiry":       {Name: "x", Environment: EnvTest, ExpiresAt: &past},
		"rotation 0":        {Name: "x", Environment: EnvTest, RotationDays: &days},
	}
	for name, p := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := New(p, "v1", t0); !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want invalid", err)
			}
		})
	}
	iss := newKey(t, NewParams{})
	k := iss.Key
	if k.Status != StatusActive || k.Currency != CurrencyFiat || len(k.AuthModes) != 2 || k.SecretVersion != 1 {
		t.Fatalf("defaults wrong: %+v", k)
	}
	if k.MatchSecret(Hash(iss.Secret), t0) != MatchCurrent {
		t.Fatal("new secret does not match its key")
	}
}

func TestResetGrace(t *testing.T) {
	exp := t0.Add(time.Hour)
	orig := newKey(t, NewParams{ExpiresAt: &exp})
	cases := []struct {
		name      string
		grace     time.Duration
		wantEnd   *time.Time
		prevWorks bool
	}{
		{"no grace", 0, nil, false},
		{"ten minutes", 10 * time.Minute, ptr(t0.Add(10 * time.Minute)), true},
		{"capped at expiry", 2 * time.Hour, &exp, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := orig.Key.Reset(DefaultBrand, c.grace, "v2", t0)
			if err != nil {
				t.Fatal(err)
			}
			n := r.Key
			if n.SecretVersion != 2 || n.SecretVersionID != "v2" || orig.Key.SecretVersion != 1 {
				t.Fatalf("versions wrong: new %d/%s, old %d", n.SecretVersion, n.SecretVersionID, orig.Key.SecretVersion)
			}
			if !sameTime(n.PrevSecretExpiresAt, c.wantEnd) {
				t.Fatalf("previous expires %v, want %v", n.PrevSecretExpiresAt, c.wantEnd)
			}
			if got := n.MatchSecret(Hash(orig.Secret), t0.Add(time.Second)) == MatchPrevious; got != c.prevWorks {
				t.Fatalf("old secret works = %v, want %v", got, c.prevWorks)
			}
			if n.MatchSecret(Hash(r.Secret), t0) != MatchCurrent {
				t.Fatal("new secret does not match")
			}
			if c.wantEnd != nil && n.MatchSecret(Hash(orig.Secret), *c.wantEnd) != NoMatch {
				t.Fatal("old secret still works at the end of its grace")
			}
			// A second reset ends the older previous secret at once.
			r2, _ := n.Reset(DefaultBrand, c.grace, "v3", t0.Add(time.Second))
			if r2.Key.MatchSecret(Hash(orig.Secret), t0.Add(2*time.Second)) != NoMatch {
				t.Fatal("a reset during a grace period kept the older secret alive")
			}
		})
	}
	if _, err := orig.Key.Reset(DefaultBrand, -time.Second, "v", t0); !errors.Is(err, ErrInvalid) {
		t.Fatal("negative grace accepted")
	}
	if _, err := orig.Key.Reset(DefaultBrand, MaxGracePeriod+time.Second, "v", t0); !errors.Is(err, ErrInvalid) {
		t.Fatal("grace over 7 days accepted")
	}
	if _, err := orig.Key.Revoke(t0).Reset(DefaultBrand, 0, "v", t0); !errors.Is(err, ErrConflict) {
		t.Fatal("reset of a revoked key allowed")
	}
	if _, err := orig.Key.Reset(DefaultBrand, 0, "v", exp); !errors.Is(err, ErrConflict) {
		t.Fatal("reset of an expired key allowed")
	}
	dis := orig.Key.Clone()
	dis.Status = StatusDisabled
	if _, err := dis.Reset(DefaultBrand, 0, "v", t0); err != nil {
		t.Fatalf("reset of a disabled key refused: %v", err)
	}
}

func TestRevokeKeepsLastHash(t *testing.T) {
	iss := newKey(t, NewParams{})
	r, _ := iss.Key.Reset(DefaultBrand, time.Hour, "v2", t0)
	rev := r.Key.Revoke(t0)
	if rev.Status != StatusRevoked || rev.MatchSecret(Hash(r.Secret), t0) != MatchCurrent {
		t.Fatal("revoked key must still recognise its last secret")
	}
	if rev.MatchSecret(Hash(iss.Secret), t0) != NoMatch {
		t.Fatal("revoking must end the grace of the previous secret")
	}
}

func TestApplyPatch(t *testing.T) {
	k := newKey(t, NewParams{Scopes: []string{"payments:read"}}).Key
	future := t0.Add(48 * time.Hour)
	cases := []struct {
		name    string
		p       Patch
		want    Change
		wantErr error
	}{
		{"nothing", Patch{}, Unchanged, nil},
		{"same name", Patch{Name: Field[string]{true, "checkout"}}, Unchanged, nil},
		{"rename", Patch{Name: Field[string]{true, "new"}}, Updated, nil},
		{"disable", Patch{Status: Field[string]{true, "disabled"}}, Disabled, nil},
		{"revoke via patch", Patch{Status: Field[string]{true, "revoked"}}, Unchanged, ErrInvalid},
		{"expiry", Patch{ExpiresAt: Field[*time.Time]{true, &future}}, Updated, nil},
		{"past expiry", Patch{ExpiresAt: Field[*time.Time]{true, ptr(t0.Add(-time.Hour))}}, Unchanged, ErrInvalid},
		{"bad cidr", Patch{AllowedIPs: Field[[]string]{true, []string{"1.2.3.4/8"}}}, Unchanged, ErrInvalid},
		{"clear scopes", Patch{Scopes: Field[[]string]{true, nil}}, Updated, nil},
		{"empty auth modes", Patch{AuthModes: Field[[]string]{true, []string{}}}, Unchanged, ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n, change, err := k.Apply(c.p, t0)
			if !errors.Is(err, c.wantErr) || (c.wantErr == nil && err != nil) {
				t.Fatalf("err = %v, want %v", err, c.wantErr)
			}
			if err == nil && change != c.want {
				t.Fatalf("change = %v, want %v", change, c.want)
			}
			if err == nil && change == Unchanged && n != k {
				t.Fatal("an unchanged patch must return the key as is")
			}
		})
	}
	if _, _, err := k.Revoke(t0).Apply(Patch{Name: Field[string]{true, "x"}}, t0); !errors.Is(err, ErrConflict) {
		t.Fatalf("patching a revoked key: %v, want conflict", err)
	}
}

// Expiry is final: once expires_at has passed, no patch or reset of the key
// is allowed, whether the scheduled job has recorded the expiry or not.
func TestExpiredKeyIsFinal(t *testing.T) {
	exp := t0.Add(time.Hour)
	later := exp.Add(30 * 24 * time.Hour)
	unswept := newKey(t, NewParams{ExpiresAt: &exp}).Key // status still active
	swept := unswept.Clone()
	swept.Status = StatusExpired
	patches := map[string]Patch{
		"move expiry to the future": {ExpiresAt: Field[*time.Time]{true, &later}},
		"clear expiry":              {ExpiresAt: Field[*time.Time]{true, nil}},
		"activate":                  {Status: Field[string]{true, "active"}},
		"rename":                    {Name: Field[string]{true, "again"}},
		"nothing":                   {},
	}
	for kname, k := range map[string]*Key{"unswept": unswept, "swept": swept} {
		for pname, p := range patches {
			t.Run(kname+"/"+pname, func(t *testing.T) {
				if _, _, err := k.Apply(p, exp); !errors.Is(err, ErrConflict) {
					t.Fatalf("patch at expiry: %v, want conflict", err)
				}
			})
		}
		if _, err := k.Reset(DefaultBrand, 0, "v2", exp.Add(time.Second)); !errors.Is(err, ErrConflict) {
			t.Fatalf("%s: reset after expiry: %v, want conflict", kname, err)
		}
		if v := k.View(exp); v.Status != StatusExpired {
			t.Fatalf("%s: view status %s, want expired", kname, v.Status)
		}
	}
	// Before expiry the same patch is fine.
	if _, c, err := unswept.Apply(patches["move expiry to the future"], t0); err != nil || c != Updated {
		t.Fatalf("patch before expiry: %v, %v", c, err)
	}
}

func TestEffectiveStatusAndView(t *testing.T) {
	exp := t0.Add(time.Hour)
	k := newKey(t, NewParams{ExpiresAt: &exp}).Key
	if k.EffectiveStatus(t0) != StatusActive || k.EffectiveStatus(exp) != StatusExpired {
		t.Fatal("expiry not reflected in the effective status")
	}
	v := k.View(exp)
	if v.Status != StatusExpired || v.Scopes == nil || v.AllowedIPs == nil {
		t.Fatalf("view wrong: %+v", v)
	}
}

func ptr[T any](v T) *T { return &v }
