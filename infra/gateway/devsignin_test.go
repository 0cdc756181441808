package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/portal"
)

// The development sign-in mints a token the gateway's own JWT authorizer
// accepts, with the claims picked, and refuses anything else in plain words.
func TestDevSignIn(t *testing.T) {
	tg := newTestGateway(t, nil, &Backend{})
	jsonCT := map[string]string{"Content-Type": "application/json"}
	tests := []struct {
		name    string
		req     reqSpec
		status  int
		message string
	}{
		{"viewer", reqSpec{"POST", portal.DevTokenPath, jsonCT, []byte(`{"merchant_id":"m_1","role":"viewer","sub":"u_1"}`)}, 200, ""},
		{"get", reqSpec{"GET", portal.DevTokenPath, nil, nil}, 405, "takes POST"},
		{"form", reqSpec{"POST", portal.DevTokenPath, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, []byte(`merchant_id=m_1`)}, 415, "application/json"},
		{"unknown role", reqSpec{"POST", portal.DevTokenPath, jsonCT, []byte(`{"merchant_id":"m_1","role":"owner","sub":"u_1"}`)}, 400, "role must be one of"},
		{"bad merchant", reqSpec{"POST", portal.DevTokenPath, jsonCT, []byte(`{"merchant_id":"m 1","role":"admin","sub":"u_1"}`)}, 400, "merchant_id"},
		{"no sub", reqSpec{"POST", portal.DevTokenPath, jsonCT, []byte(`{"merchant_id":"m_1","role":"admin","sub":" "}`)}, 400, "sub must be"},
		{"unknown field", reqSpec{"POST", portal.DevTokenPath, jsonCT, []byte(`{"merchant_id":"m_1","role":"admin","sub":"u","aud":"x"}`)}, 400, "the body must be"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := tg.do(t, tt.req)
			if res.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d: %s", res.StatusCode, tt.status, body)
			}
			if res.Header.Get("Cache-Control") != "no-store" {
				t.Error("the answer may be cached")
			}
			if tt.status != http.StatusOK {
				if !strings.Contains(body, `"error":{"code":`) || !strings.Contains(body, tt.message) {
					t.Errorf("body = %s, want an error saying %q", body, tt.message)
				}
				return
			}
			var out struct {
				Token     string `json:"token"`
				ExpiresIn int    `json:"expires_in"`
			}
			if err := json.Unmarshal([]byte(body), &out); err != nil || out.ExpiresIn != 3600 {
				t.Fatalf("body = %s (%v)", body, err)
			}
			desc, fail := tg.jwt.Authenticate("Bearer "+out.Token, nil)
			if fail != nil {
				t.Fatalf("the gateway refuses its own dev token: %+v", fail)
			}
			if c := desc.Claims; c["merchant_id"] != "m_1" || c["role"] != "viewer" || c["sub"] != "u_1" {
				t.Errorf("claims = %v", c)
			}
		})
	}
}
