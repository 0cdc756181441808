package main

import "testing"

// The default address follows PORT, as make dev's does, so a run beside a
// make dev on another port measures that one.
func TestDefaultURLFollowsPORT(t *testing.T) {
	for _, tc := range []struct{ port, want string }{
		{"", "http://127.0.0.1:3000"},
		{"3520", "http://127.0.0.1:3520"},
		{" 3521 ", "http://127.0.0.1:3521"},
	} {
		got := defaultURL(func(name string) string {
			if name == "PORT" {
				return tc.port
			}
			return ""
		})
		if got != tc.want {
			t.Errorf("PORT=%q: default -url %q, want %q", tc.port, got, tc.want)
		}
	}
}
