package key

import (
	"hash/crc32"
	"math/big"
	"os"
	"regexp"
	"strings"
	"testing"
)

// checksumReference recomputes the checksum with math/big, independently of Checksum.
func checksumReference(s string) string {
	v := new(big.Int).SetUint64(uint64(crc32.ChecksumIEEE([]byte(s))))
	out := v.Text(62) // math/big uses 0-9a-zA-Z; the contract's alphabet is 0-9A-Za-z
	swapped := strings.Map(func(r rune) rune {
		switch {
		case 'a' <= r && r <= 'z':
			return r - 'a' + 'A'
		case 'A' <= r && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, out)
	return strings.Repeat("0", 6-len(swapped)) + swapped
}

func TestChecksumMatchesContract(t *testing.T) {
	for _, s := range []string{"", "paykeys_sk_test_", "paykeys_sk_live_abc", strings.Repeat("z", 61)} {
		if got, want := Checksum(s), checksumReference(s); got != want {
			t.Errorf("Checksum(%q) = %s, want %s", s, got, want)
		}
	}
	if Checksum("") != "000000" { // CRC32 of "" is 0
		t.Errorf("Checksum(\"\") = %s", Checksum(""))
	}
}

func TestNewSecretShape(t *testing.T) {
	for _, env := range []Environment{EnvTest, EnvLive} {
		id := NewClientID(env)
		if !strings.HasPrefix(id, "ck_"+string(env)+"_") || len(id) != ClientIDLen || !ValidClientID(id) {
			t.Fatalf("client ID %q has the wrong shape", id)
		}
		s := DefaultBrand.NewSecret(id)
		if !strings.HasPrefix(s, "paykeys_sk_"+string(env)+"_") || len(s) != DefaultBrand.SecretLen() || len(s) != 77 {
			t.Fatalf("secret has the wrong shape (len %d)", len(s))
		}
		if !isBase62(s[len("paykeys_sk_test_"):]) {
			t.Fatal("secret body is not base62")
		}
		if Checksum(s[:len(s)-6]) != s[len(s)-6:] {
			t.Fatal("secret does not end with its checksum")
		}
		p, ok := DefaultBrand.ParseSecret(s)
		if !ok || p.ClientID != id || p.Environment != env {
			t.Fatalf("ParseSecret = %+v, %v; want %s", p, ok, id)
		}
	}
}

func TestSecretEntropyIsAtLeast192Bits(t *testing.T) {
	// 33 random base62 characters: log2(62^33) ≈ 196.5 bits.
	bits := float64(secretRandLen) * 5.954196310386876
	if bits < 192 {
		t.Fatalf("secret random part carries %.1f bits", bits)
	}
	seen := map[string]bool{}
	id := NewClientID(EnvTest)
	for range 1000 {
		s := DefaultBrand.NewSecret(id)
		if seen[s] {
			t.Fatal("duplicate secret")
		}
		seen[s] = true
	}
}

func TestRandomBase62IsRoughlyUniform(t *testing.T) {
	counts := map[byte]int{}
	const n = 62 * 500
	s := randomBase62(n)
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	if len(counts) != 62 {
		t.Fatalf("saw %d distinct characters, want 62", len(counts))
	}
	for c, k := range counts {
		if k < 350 || k > 650 { // expected 500; ~7 standard deviations of slack
			t.Errorf("character %q appeared %d times in %d", c, k, n)
		}
	}
}

func TestParseSecretRejects(t *testing.T) {
	good := DefaultBrand.NewSecret(NewClientID(EnvLive))
	flip := func(i int) string {
		b := []byte(good)
		if b[i] == 'a' {
			b[i] = 'b'
		} else {
			b[i] = 'a'
		}
		return string(b)
	}
	cases := map[string]string{
		"empty":            "",
		"truncated":        good[:len(good)-1],
		"extended":         good + "0",
		"typo in body":     flip(20),
		"typo in checksum": flip(len(good) - 1),
		"wrong prefix":     "pk" + good[2:],
		"unknown env":      "paykeys_sk_prod" + good[15:],
		"no brand":         good[len("paykeys_"):],
		"upper-case brand": "PAYKEYS" + good[7:],
		"non-base62":       good[:30] + "-" + good[31:],
		"client ID":        NewClientID(EnvLive),
		"whitespace":       " " + good[1:],
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := DefaultBrand.ParseSecret(s); ok {
				t.Fatalf("ParseSecret accepted %q", s)
			}
		})
	}
}

func TestHashAndHint(t *testing.T) {
	s := DefaultBrand.NewSecret(NewClientID(EnvTest))
	if h1, h2 := Hash(s), Hash(s); string(h1) != string(h2) || len(h1) != 32 {
		t.Fatal("hash is not a stable SHA-256")
	}
	if strings.Contains(string(Hash(s)), s) {
		t.Fatal("hash contains the secret")
	}
	if h := Hint(s); h != "…"+s[len(s)-4:] {
		t.Fatalf("Hint = %q", h)
	}
}

func TestNewVersionIDIsUUIDv4(t *testing.T) {
	v := NewVersionID()
	if len(v) != 36 || v[14] != '4' || strings.Count(v, "-") != 4 || !strings.ContainsRune("89ab", rune(v[19])) {
		t.Fatalf("version ID %q is not a UUIDv4", v)
	}
}

func FuzzParseSecret(f *testing.F) {
	id := NewClientID(EnvTest)
	f.Add(DefaultBrand.NewSecret(id))
	f.Add(DefaultBrand.NewSecret(NewClientID(EnvLive)))
	f.Add("paykeys_sk_test_")
	f.Add("")
	f.Add(strings.Repeat("0", DefaultBrand.SecretLen()))
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := DefaultBrand.ParseSecret(s)
		if !ok {
			return
		}
		// Anything accepted has the exact shape and a valid checksum, and
		// names a well-formed client ID of the same environment.
		if len(s) != DefaultBrand.SecretLen() || Checksum(s[:DefaultBrand.SecretLen()-6]) != s[DefaultBrand.SecretLen()-6:] {
			t.Fatalf("accepted a secret with a bad checksum: %q", s)
		}
		if !ValidClientID(p.ClientID) || !strings.HasPrefix(p.ClientID, "ck_"+string(p.Environment)+"_") {
			t.Fatalf("accepted %q naming client ID %q", s, p.ClientID)
		}
		if !strings.HasPrefix(s, "paykeys_sk_"+string(p.Environment)+"_") {
			t.Fatalf("environment %q does not match prefix of %q", p.Environment, s)
		}
	})
}

func TestBrand(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Brand
		ok   bool
	}{
		{"", DefaultBrand, true},
		{"paykeys", "paykeys", true},
		{"ab", "ab", true},
		{"abcdefghijklmnop", "abcdefghijklmnop", true},
		{"a", "", false},
		{"abcdefghijklmnopq", "", false},
		{"Acme", "", false},
		{"acme_x", "", false},
		{"acme1", "", false},
		{"ácme", "", false},
	} {
		got, err := ParseBrand(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseBrand(%q) = %q, %v", c.in, got, err)
		}
	}

	// A deployment accepts exactly its own brand: not the default, not
	// another brand, not the unbranded form, though each checksum holds.
	acme := Brand("acme")
	id := NewClientID(EnvLive)
	s := acme.NewSecret(id)
	if !strings.HasPrefix(s, "acme_sk_live_") || len(s) != acme.SecretLen() {
		t.Fatalf("acme secret %q has the wrong shape", s)
	}
	if p, ok := acme.ParseSecret(s); !ok || p.ClientID != id || p.Environment != EnvLive {
		t.Fatalf("acme.ParseSecret = %+v, %v", p, ok)
	}
	tail := s[len("acme_sk_live_"):]
	for _, prefix := range []string{"paykeys_sk_live_", "acmex_sk_live_", "acm_sk_live_", "ACME_sk_live_", "paykeys_sk_live_"} {
		body := prefix + tail[:len(tail)-checksumLen]
		if _, ok := acme.ParseSecret(body + Checksum(body)); ok {
			t.Errorf("acme accepted %q", body+Checksum(body))
		}
	}
	if _, ok := DefaultBrand.ParseSecret(s); ok {
		t.Error("the default brand accepted an acme secret")
	}
	if !strings.HasPrefix(Brand("").NewSecret(id), "paykeys_sk_live_") {
		t.Error("the zero brand is not the default")
	}
}

func TestScannerPattern(t *testing.T) {
	if got, want := DefaultBrand.ScannerPattern(), `\bpaykeys_sk_(?:test|live)_[0-9A-Za-z]{61}\b`; got != want {
		t.Fatalf("ScannerPattern = %s, want %s (the README publishes it)", got, want)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil || !strings.Contains(string(readme), "\n"+DefaultBrand.ScannerPattern()+"\n") {
		t.Fatalf("the README does not publish the pattern %s (%v)", DefaultBrand.ScannerPattern(), err)
	}
	re := regexp.MustCompile(DefaultBrand.ScannerPattern())
	s := DefaultBrand.NewSecret(NewClientID(EnvTest))
	if got := re.FindString("export KEY=" + s + "\n"); got != s {
		t.Errorf("the pattern found %q in a line holding %q", got, s)
	}
	for _, miss := range []string{s + "x", "x" + s, s[len("paykeys_"):], Brand("acme").NewSecret(NewClientID(EnvTest)), s[:len(s)-1]} {
		if re.MatchString(miss) {
			t.Errorf("the pattern matched %q", miss)
		}
	}
}
