package webhook

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestOutcome(t *testing.T) {
	tests := []struct {
		a    Attempt
		want Outcome
	}{
		{Attempt{Status: 0, Error: "connection refused"}, Failed},
		{Attempt{Status: 200}, Succeeded},
		{Attempt{Status: 201}, Succeeded},
		{Attempt{Status: 204}, Succeeded},
		{Attempt{Status: 299}, Succeeded},
		{Attempt{Status: 199}, Failed},
		{Attempt{Status: 300}, Failed},
		{Attempt{Status: 301}, Failed},
		{Attempt{Status: 302}, Failed},
		{Attempt{Status: 307}, Failed},
		{Attempt{Status: 400}, Failed},
		{Attempt{Status: 404}, Failed},
		{Attempt{Status: 410}, Gone},
		{Attempt{Status: 429, RetryAfter: "60"}, Failed},
		{Attempt{Status: 500}, Failed},
		{Attempt{Status: 503}, Failed},
	}
	for _, tt := range tests {
		if got := tt.a.Outcome(); got != tt.want {
			t.Errorf("status %d: %v, want %v", tt.a.Status, got, tt.want)
		}
	}
	var zero Outcome
	if zero != Failed {
		t.Error("the zero Outcome is not Failed")
	}
	for o, s := range map[Outcome]string{Failed: "failed", Succeeded: "succeeded", Gone: "gone"} {
		if o.String() != s {
			t.Errorf("%d.String() = %q, want %q", int(o), o.String(), s)
		}
	}
}

func TestTruncateBody(t *testing.T) {
	const limit = MaxResponseBody
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"empty", "", ""},
		{"short", `{"ok":true}`, `{"ok":true}`},
		{"exactly the limit", strings.Repeat("a", limit), strings.Repeat("a", limit)},
		{"over the limit", strings.Repeat("a", limit+1), strings.Repeat("a", limit)},
		{"100 KB", strings.Repeat("b", 100*1024), strings.Repeat("b", limit)},
		// "é" is two bytes: the last one would be cut in half.
		{"rune across the limit", strings.Repeat("a", limit-1) + "éé", strings.Repeat("a", limit-1)},
		// "€" is three bytes.
		{"three-byte runes", strings.Repeat("€", limit), strings.Repeat("€", limit/3)},
		{"invalid bytes", "ok\xff\xfeok", "ok\uFFFDok"},
		{"invalid bytes at the limit", strings.Repeat("a", limit-2) + "\xff\xff\xff", strings.Repeat("a", limit-2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := TruncateBody([]byte(tt.in))
			if got != tt.want {
				t.Errorf("got %d bytes, want %d", len(got), len(tt.want))
			}
			if len(got) > limit || !utf8.ValidString(got) {
				t.Errorf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
		})
	}
}
