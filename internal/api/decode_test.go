package api

import (
	"errors"
	"testing"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
)

func TestDecodePatch(t *testing.T) {
	cases := []struct {
		name    string
		body    string
		check   func(key.Patch) bool
		wantMsg string // "" when the body must decode
	}{
		{name: "absent fields stay unset", body: `{"name":"n"}`, check: func(p key.Patch) bool {
			return p.Name.Set && p.Name.Value == "n" && !p.Scopes.Set && !p.ExpiresAt.Set && !p.RotationDays.Set
		}},
		{name: "null clears nullable fields", body: `{"scopes":null,"expires_at":null,"rotation_days":null,"allowed_ips":null}`,
			check: func(p key.Patch) bool {
				return p.Scopes.Set && p.Scopes.Value == nil && p.ExpiresAt.Set && p.ExpiresAt.Value == nil &&
					p.RotationDays.Set && p.RotationDays.Value == nil && p.AllowedIPs.Set && !p.Name.Set
			}},
		{name: "values", body: `{"expires_at":"2030-01-02T03:04:05Z","rotation_days":30,"status":"disabled"}`,
			check: func(p key.Patch) bool {
				return p.ExpiresAt.Value != nil && p.ExpiresAt.Value.Year() == 2030 && *p.RotationDays.Value == 30 && p.Status.Value == "disabled"
			}},
		{name: "null name", body: `{"name":null}`, wantMsg: `field "name" must not be null`},
		{name: "case", body: `{"Scopes":[]}`, wantMsg: `unknown field; field names are case-sensitive: did you mean "scopes"?`},
		{name: "duplicate", body: `{"status":"active","status":"disabled"}`, wantMsg: `field "status" is given more than once`},
		{name: "invalid UTF-8", body: "{\"name\":\"\xc0\"}", wantMsg: "body is not valid UTF-8"},
		{name: "unknown", body: `{"currency":"fiat"}`, wantMsg: `unknown field "currency"`},
		{name: "wrong type", body: `{"rotation_days":"30"}`, wantMsg: `field "rotation_days" must be an integer in range`},
		{name: "wrong element type", body: `{"scopes":[1]}`, wantMsg: `field "scopes" must be a string`},
		{name: "timestamp not echoed", body: `{"expires_at":"paykeys_sk_test_abc"}`, wantMsg: "timestamps must be RFC 3339, like 2027-01-31T00:00:00Z"},
		{name: "timestamp type", body: `{"expires_at":5}`, wantMsg: "timestamps must be RFC 3339 strings, like 2027-01-31T00:00:00Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := decodePatch(apigw.Request{Body: c.body})
			if c.wantMsg == "" {
				if err != nil || !c.check(p) {
					t.Fatalf("patch = %+v, err = %v", p, err)
				}
				return
			}
			if !errors.Is(err, key.ErrInvalid) || err.Error() != c.wantMsg {
				t.Fatalf("err = %v, want 400 %q", err, c.wantMsg)
			}
		})
	}
}
