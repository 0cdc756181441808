package key

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateName(t *testing.T) {
	cases := []struct {
		name string
		ok   bool
	}{
		{"checkout backend", true},
		{"Zahlungen – Ü", true},
		{"日本語の鍵", true},
		{"e\u0301clair", true}, // a combining accent after a letter
		{"🔑", true},
		{strings.Repeat("é", MaxNameLen), true},
		{"", false},
		{strings.Repeat("x", MaxNameLen+1), false},
		{"bad\xffutf8", false},
		{"   ", false},
		{"\u3000\u00a0", false}, // spaces only, not ASCII
		{"\u0301", false},       // a combining mark alone shows nothing
		{"a\nb", false},
		{"tab\tname", false},
		{"nul\x00", false},
		{"\u007f", false},
		{"invoice\u202Etxt.exe", false}, // right-to-left override
		{"zero\u200Bwidth", false},
		{"joiner\u200D", false},
		{"\ufeffbom", false},
		{"\u2066isolate\u2069", false},
		{"soft\u00adhyphen", false},
	}
	for _, c := range cases {
		err := ValidateName(c.name)
		if c.ok != (err == nil) || err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateName(%+q) = %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && strings.Contains(err.Error(), c.name) && c.name != "" {
			t.Errorf("ValidateName(%+q) echoed the name: %v", c.name, err)
		}
	}
}

func TestValidateText(t *testing.T) {
	cases := []struct {
		s  string
		ok bool
	}{
		{"", true},
		{"orders service, EU", true},
		{"line\nbreak", false},
		{"rtl\u202Eoverride", false},
		{"zw\u200Bsp", false},
		{"bad\xfe", false},
	}
	for _, c := range cases {
		if err := ValidateText("description", c.s); c.ok != (err == nil) {
			t.Errorf("ValidateText(%+q) = %v, want ok=%v", c.s, err, c.ok)
		}
	}
}
