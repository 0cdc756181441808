package key

import (
	"regexp"
	"strings"
	"testing"
)

// ValidMerchantID accepts exactly what the documented pattern does.
func TestValidMerchantID(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	cases := []string{
		"", "m", "m_Ab-9_", strings.Repeat("m", 64), strings.Repeat("m", 65),
		"m a", "m/../n", "m\x00", "mé", "m\n", "\nm", "[m_a m_b]", `{"id":"m_a"}`, "m.", "m+", "m=", "-", "_",
		"ABCXYZabcxyz0189", "m@", "m`", "m{", "m[", "m:", "m/",
	}
	for c := 0; c < 256; c++ {
		cases = append(cases, string(rune(c)), "m"+string([]byte{byte(c)}))
	}
	for _, s := range cases {
		if got, want := ValidMerchantID(s), pattern.MatchString(s); got != want {
			t.Errorf("ValidMerchantID(%q) = %v, want %v", s, got, want)
		}
	}
}
