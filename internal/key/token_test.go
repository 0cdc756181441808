package key

import (
	"hash/crc32"
	"math/big"
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
	for _, s := range []string{"", "sk_test_", "sk_live_abc", strings.Repeat("z", 61)} {
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
		s := NewSecret(id)
		if !strings.HasPrefix(s, "sk_"+string(env)+"_") || len(s) != SecretLen {
			t.Fatalf("secret has the wrong shape (len %d)", len(s))
		}
		if !isBase62(s[len("sk_test_"):]) {
			t.Fatal("secret body is not base62")
		}
		if Checksum(s[:len(s)-6]) != s[len(s)-6:] {
			t.Fatal("secret does not end with its checksum")
		}
		p, ok := ParseSecret(s)
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
		s := NewSecret(id)
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
	good := NewSecret(NewClientID(EnvLive))
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
		"unknown env":      "sk_prod" + good[7:],
		"non-base62":       good[:30] + "-" + good[31:],
		"client ID":        NewClientID(EnvLive),
		"whitespace":       " " + good[1:],
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			if _, ok := ParseSecret(s); ok {
				t.Fatalf("ParseSecret accepted %q", s)
			}
		})
	}
}

func TestHashAndHint(t *testing.T) {
	s := NewSecret(NewClientID(EnvTest))
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
	f.Add(NewSecret(id))
	f.Add(NewSecret(NewClientID(EnvLive)))
	f.Add("sk_test_")
	f.Add("")
	f.Add(strings.Repeat("0", SecretLen))
	f.Fuzz(func(t *testing.T, s string) {
		p, ok := ParseSecret(s)
		if !ok {
			return
		}
		// Anything accepted has the exact shape and a valid checksum, and
		// names a well-formed client ID of the same environment.
		if len(s) != SecretLen || Checksum(s[:SecretLen-6]) != s[SecretLen-6:] {
			t.Fatalf("accepted a secret with a bad checksum: %q", s)
		}
		if !ValidClientID(p.ClientID) || !strings.HasPrefix(p.ClientID, "ck_"+string(p.Environment)+"_") {
			t.Fatalf("accepted %q naming client ID %q", s, p.ClientID)
		}
		if !strings.HasPrefix(s, "sk_"+string(p.Environment)+"_") {
			t.Fatalf("environment %q does not match prefix of %q", p.Environment, s)
		}
	})
}
