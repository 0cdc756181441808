package webhook

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateURL(t *testing.T) {
	long := "https://example.com/" + strings.Repeat("a", MaxURLLength-len("https://example.com/"))
	tests := []struct {
		name         string
		url          string
		allowPrivate bool
		wantMsg      string // "" when valid
	}{
		{"https", "https://example.com/webhooks", false, ""},
		{"https with port and query", "https://example.com:8443/hooks?tenant=1", false, ""},
		{"upper-case scheme", "HTTPS://example.com/", false, ""},
		{"IP literal", "https://93.184.216.34/", false, ""},
		{"IPv6 literal", "https://[2606:2800:220:1::1]/", false, ""},
		{"at the length limit", long, false, ""},
		{"http when allowed", "http://localhost:9000/hook", true, ""},
		{"empty", "", false, "url is required"},
		{"too long", long + "a", false, "url must be at most 2048 characters"},
		{"unparsable", "https://exa mple.com/", false, "url is not a valid URL"},
		{"control character", "https://example.com/\n", false, "url is not a valid URL"},
		{"relative", "/webhooks", false, "url must be absolute"},
		{"no scheme", "example.com/webhooks", false, "url must be absolute"},
		{"http", "http://example.com/", false, "url must use https"},
		{"ftp", "ftp://example.com/", false, "url must use https"},
		{"ftp when private allowed", "ftp://example.com/", true, "url must use https or http"},
		{"javascript", "javascript:alert(1)", false, "url must use https"},
		{"no host", "https:///webhooks", false, "url must include a host"},
		{"port only", "https://:443/", false, "url must include a host"},
		{"opaque", "https:example.com", false, "url must include a host"},
		{"user", "https://user@example.com/", false, "url must not include a user name or password"},
		{"user and password", "https://user:pw@example.com/", false, "url must not include a user name or password"},
		{"fragment", "https://example.com/#frag", false, "url must not include a fragment"},
		{"empty fragment", "https://example.com/#", false, "url must not include a fragment"},
		{"port zero", "https://example.com:0/", false, "url port must be from 1 to 65535"},
		{"port too big", "https://example.com:65536/", false, "url port must be from 1 to 65535"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateURL(tt.url, tt.allowPrivate)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidURL) {
				t.Fatalf("err = %v, want ErrInvalidURL", err)
			}
			if !strings.HasPrefix(err.Error(), tt.wantMsg) {
				t.Fatalf("message %q, want %q", err, tt.wantMsg)
			}
		})
	}
}
