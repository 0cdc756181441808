package portal

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/config"
)

const routeScopes = "GET /demo/{proxy+}=payments:read;ANY /demo/{proxy+}=payments:write"

func newHandler(t *testing.T, env map[string]string) *Handler {
	t.Helper()
	env["TABLE_NAME"] = "t"
	env["ROUTE_SCOPES"] = routeScopes
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func get(t *testing.T, h *Handler, method, path string, headers map[string]string) apigw.Response {
	t.Helper()
	req := apigw.Request{RawPath: path, Headers: headers}
	req.RequestContext.HTTP.Method = method
	resp, err := h.Handle(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// Every answer carries the page's security headers; the page and its
// settings are never cached, the files are revalidated by their ETag.
func TestHandle(t *testing.T) {
	h := newHandler(t, map[string]string{})
	tests := []struct {
		method, path string
		headers      map[string]string
		status       int
		contentType  string
		cache        string
		bodyHas      string
	}{
		{"GET", "/portal/", nil, 200, "text/html; charset=utf-8", "no-store", `<script src="/portal/app.js" defer></script>`},
		{"GET", "/portal/callback", nil, 200, "text/html; charset=utf-8", "no-store", `<main id="main"`},
		{"GET", "/portal/keys/anything", nil, 200, "text/html; charset=utf-8", "no-store", `<main id="main"`},
		{"GET", "/portal", nil, 200, "text/html; charset=utf-8", "no-store", `<main id="main"`},
		{"GET", "/portal/app.js", nil, 200, "text/javascript; charset=utf-8", "no-cache", `"use strict"`},
		{"GET", "/portal/app.css", nil, 200, "text/css; charset=utf-8", "no-cache", ":root"},
		{"GET", "/portal/app.js", map[string]string{"if-none-match": h.files["app.js"].etag}, 304, "text/javascript; charset=utf-8", "no-cache", ""},
		{"GET", "/portal/config.json", nil, 200, "application/json", "no-store", `"scopes":["payments:read","payments:write"]`},
		{"POST", "/portal/", nil, 405, "text/plain; charset=utf-8", "no-store", ""},
		{"GET", "/elsewhere", nil, 404, "text/plain; charset=utf-8", "no-store", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := get(t, h, tt.method, tt.path, tt.headers)
			if r.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d", r.StatusCode, tt.status)
			}
			want := map[string]string{
				"Content-Type": tt.contentType, "Cache-Control": tt.cache, "X-Frame-Options": "DENY",
				"Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff",
			}
			for k, v := range want {
				if r.Headers[k] != v {
					t.Errorf("%s = %q, want %q", k, r.Headers[k], v)
				}
			}
			csp := r.Headers["Content-Security-Policy"]
			for _, d := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self';", "frame-ancestors 'none'", "require-trusted-types-for 'script'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe") {
				t.Errorf("CSP %q allows something unsafe", csp)
			}
			if !strings.Contains(r.Body, tt.bodyHas) {
				t.Errorf("body lacks %q", tt.bodyHas)
			}
		})
	}
}

// config.json tells the page how to sign in: make dev's sign-in only where
// PORTAL_DEV_SIGNIN is on, OIDC where the issuer's endpoints are set, whose
// token endpoint is then the one other origin the page may call.
func TestSettings(t *testing.T) {
	dev := newHandler(t, map[string]string{"PORTAL_DEV_SIGNIN": "true"})
	var s Settings
	if err := json.Unmarshal(dev.config, &s); err != nil {
		t.Fatal(err)
	}
	if s.DevSignIn == nil || s.DevSignIn.Path != DevTokenPath || s.OIDC != nil {
		t.Errorf("dev settings = %s", dev.config)
	}

	oidc := newHandler(t, map[string]string{
		"PORTAL_OIDC_ISSUER": "https://id.example.com", "PORTAL_OIDC_CLIENT_ID": "client1",
		"PORTAL_OIDC_AUTHORIZE_URL": "https://login.example.com/oauth2/authorize",
		"PORTAL_OIDC_TOKEN_URL":     "https://login.example.com/oauth2/token", "PORTAL_OIDC_TOKEN": "id_token",
	})
	s = Settings{}
	if err := json.Unmarshal(oidc.config, &s); err != nil {
		t.Fatal(err)
	}
	if s.DevSignIn != nil || s.OIDC == nil || s.OIDC.ClientID != "client1" || s.OIDC.TokenType != "id_token" || s.OIDC.Scopes != "openid" {
		t.Errorf("oidc settings = %s", oidc.config)
	}
	csp := get(t, oidc, "GET", "/portal/", nil).Headers["Content-Security-Policy"]
	if !strings.Contains(csp, "connect-src 'self' https://login.example.com;") {
		t.Errorf("CSP = %q, want the token endpoint's origin in connect-src", csp)
	}

	none := newHandler(t, map[string]string{})
	if string(none.config) != `{"dev_signin":null,"oidc":null,"scopes":["payments:read","payments:write"]}` {
		t.Errorf("settings without sign-in = %s", none.config)
	}
	for _, bad := range []map[string]string{
		{"PORTAL_DEV_SIGNIN": "yes"}, {"PORTAL_OIDC_TOKEN": "code"}, {"PORTAL_OIDC_TOKEN_URL": "http://login.example.com/token"},
		{"PORTAL_OIDC_AUTHORIZE_URL": "http://127.0.0.1.example.com/authorize"},
	} {
		bad["TABLE_NAME"] = "t"
		if _, err := config.Load(func(k string) string { return bad[k] }); err == nil {
			t.Errorf("config.Load accepted %v", bad)
		}
	}
}

// The page has no inline script or style and no event-handler attribute,
// and the script uses no HTML sink, eval, storage or cookie, so the CSP holds
// and a token or secret can only live in memory.
func TestAssetsKeepThePolicy(t *testing.T) {
	h := newHandler(t, map[string]string{})
	html := string(h.files["index.html"].body)
	scripts := regexp.MustCompile(`<script([^>]*)>([^<]*)</script>`).FindAllStringSubmatch(html, -1)
	if len(scripts) != strings.Count(html, "<script") || len(scripts) == 0 {
		t.Errorf("index.html has %d script elements, %d of them plain", strings.Count(html, "<script"), len(scripts))
	}
	for _, m := range scripts {
		if !strings.Contains(m[1], `src="/portal/`) || strings.TrimSpace(m[2]) != "" {
			t.Errorf("index.html has an inline script: %s", m[0])
		}
	}
	for _, re := range []string{`<style`, `\son[a-z]+=`, `\sstyle=`, `javascript:`, `https?://`} {
		if m := regexp.MustCompile(re).FindString(html); m != "" {
			t.Errorf("index.html has %q", m)
		}
	}
	js := string(h.files["app.js"].body)
	for _, banned := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function",
		"localStorage", "sessionStorage", "document.cookie", "indexedDB", ".style.", "setAttribute(\"style\""} {
		if strings.Contains(js, banned) {
			t.Errorf("app.js uses %s", banned)
		}
	}
	if css := string(h.files["app.css"].body); strings.Contains(css, "@import") || strings.Contains(css, "url(") {
		t.Error("app.css loads something")
	}
}

// The user pool's trigger copies merchant and role into the ID token, and
// refuses a user without valid ones.
func TestClaims(t *testing.T) {
	tests := []struct {
		attrs map[string]string
		ok    bool
	}{
		{map[string]string{"custom:merchant_id": "m_1", "custom:role": "viewer"}, true},
		{map[string]string{"custom:merchant_id": "m_1"}, false},
		{map[string]string{"custom:merchant_id": "m 1", "custom:role": "admin"}, false},
		{map[string]string{"custom:merchant_id": "m_1", "custom:role": "owner"}, false},
	}
	for _, tt := range tests {
		var ev events.CognitoEventUserPoolsPreTokenGen
		ev.Request.UserAttributes = tt.attrs
		out, err := Claims(context.Background(), ev)
		if (err == nil) != tt.ok {
			t.Errorf("%v: err = %v", tt.attrs, err)
			continue
		}
		got := out.Response.ClaimsOverrideDetails.ClaimsToAddOrOverride
		if tt.ok && (got["merchant_id"] != tt.attrs["custom:merchant_id"] || got["role"] != tt.attrs["custom:role"]) {
			t.Errorf("%v: claims = %v", tt.attrs, got)
		}
		if !tt.ok && got != nil {
			t.Errorf("%v: claims added to a refused sign-in: %v", tt.attrs, got)
		}
	}
}
