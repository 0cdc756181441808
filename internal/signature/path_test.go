package signature

import (
	"slices"
	"testing"
)

func TestPathForms(t *testing.T) {
	tests := []struct {
		decoded string
		want    []string
	}{
		{"/demo/charges", nil},
		{"/demo/a-b_c.d~e/", nil},
		{"/demo/café au lait", []string{"/demo/caf%C3%A9%20au%20lait"}},
		{"/demo/a:b@c", []string{"/demo/a%3Ab%40c"}},
		{"/demo/a b:c", []string{"/demo/a%20b:c", "/demo/a%20b%3Ac"}},
		{"/demo/100%", []string{"/demo/100%25"}},
	}
	for _, tt := range tests {
		if got := PathForms(tt.decoded); !slices.Equal(got, tt.want) {
			t.Errorf("PathForms(%q) = %q, want %q", tt.decoded, got, tt.want)
		}
	}
}
