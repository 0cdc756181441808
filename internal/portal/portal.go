// Package portal is the reference merchant portal: static pages (HTML, CSS
// and JavaScript, no build step, no third-party code) embedded in the binary
// and served under /portal/ on the management API's own origin, so the pages
// call the API same-origin, with no CORS. Every answer carries a strict
// Content-Security-Policy (no inline script or style, nothing from another
// origin but the OIDC issuer's token endpoint), refuses framing and sends no
// referrer. The page keeps its token in memory only.
package portal

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/config"
)

// Page is the portal's address, and Prefix is where its files are. The
// page is /portal and not /portal/: an HTTP API route's greedy path
// variable (GET /portal/{proxy+}) needs at least one segment, so a route can
// name /portal but not /portal/.
const (
	Page   = "/portal"
	Prefix = "/portal/"
)

// DevTokenPath is make dev's development sign-in: the local gateway, and
// nothing deployed, mints a token there for the merchant and role the user
// picks.
const DevTokenPath = "/dev/portal-token"

//go:embed assets
var assets embed.FS

// asset is one embedded file with its content type and entity tag.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the portal's pages.
type Handler struct {
	files  map[string]asset // by path under Prefix
	config []byte           // config.json
	csp    string
}

// Settings is what the page learns from config.json: how to sign in, and
// the scopes a key may be granted.
type Settings struct {
	DevSignIn *DevSignIn `json:"dev_signin"`
	OIDC      *OIDC      `json:"oidc"`
	Scopes    []string   `json:"scopes"`
}

// DevSignIn is make dev's sign-in: POST {merchant_id, role, sub} to Path.
type DevSignIn struct {
	Path  string   `json:"path"`
	Roles []string `json:"roles"`
}

// OIDC is the deployment's issuer, for the authorization code flow with PKCE.
type OIDC struct {
	Issuer       string `json:"issuer"`
	ClientID     string `json:"client_id"`
	AuthorizeURL string `json:"authorization_endpoint"`
	TokenURL     string `json:"token_endpoint"`
	Scopes       string `json:"scope"`
	TokenType    string `json:"token"`
}

// New builds the handler from the configuration: the OIDC settings (when
// the issuer's endpoints are set), make dev's sign-in (when turned on) and
// the declared scopes.
func New(cfg config.Config) (*Handler, error) {
	declared, err := cfg.DeclaredScopes()
	if err != nil {
		return nil, err
	}
	s := Settings{Scopes: declared.List()}
	if s.Scopes == nil {
		s.Scopes = []string{}
	}
	p := cfg.Portal
	if p.DevSignIn {
		s.DevSignIn = &DevSignIn{Path: DevTokenPath, Roles: []string{"root", "admin", "developer", "viewer"}}
	}
	connect := "'self'"
	if p.AuthorizeURL != "" && p.TokenURL != "" && p.ClientID != "" {
		s.OIDC = &OIDC{Issuer: p.OIDCIssuer, ClientID: p.ClientID, AuthorizeURL: p.AuthorizeURL,
			TokenURL: p.TokenURL, Scopes: p.Scopes, TokenType: p.TokenType}
		u, err := url.Parse(p.TokenURL)
		if err != nil {
			return nil, err
		}
		connect += " " + u.Scheme + "://" + u.Host // the code is exchanged from the page
	}
	conf, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	h := &Handler{files: map[string]asset{}, config: conf, csp: CSP(connect)}
	err = fs.WalkDir(assets, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := assets.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		h.files[strings.TrimPrefix(p, "assets/")] = asset{
			body:        body,
			contentType: contentType(p),
			etag:        `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	return h, err
}

// CSP is the portal's Content-Security-Policy with connect-src connect:
// scripts and styles from the portal's own files only (no inline code, no
// eval), DOM sinks only through Trusted Types (the page uses none), no
// framing, no plugins, forms posted nowhere.
func CSP(connect string) string {
	return strings.Join([]string{
		"default-src 'none'",
		"script-src 'self'",
		"style-src 'self'",
		"img-src 'self'",
		"connect-src " + connect,
		"base-uri 'none'",
		"form-action 'none'",
		"frame-ancestors 'none'",
		"object-src 'none'",
		"require-trusted-types-for 'script'",
		"trusted-types 'none'",
	}, "; ")
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	}
	return "application/octet-stream"
}

// Handle serves GET /portal and anything under it: /portal is the page, the
// page's files are themselves, config.json is the sign-in settings, and any
// other path under /portal/ is the page too (the OIDC callback,
// /portal/callback, included), which routes by its fragment.
func (h *Handler) Handle(_ context.Context, req apigw.Request) (apigw.Response, error) {
	method := req.RequestContext.HTTP.Method
	p := req.RawPath
	if method != http.MethodGet && method != http.MethodHead {
		return h.respond(http.StatusMethodNotAllowed, "text/plain; charset=utf-8", "no-store", []byte("method not allowed\n"), map[string]string{"Allow": "GET, HEAD"}), nil
	}
	name, ok := strings.CutPrefix(p, Prefix)
	if p == Page {
		name, ok = "index.html", true
	}
	if !ok {
		return h.respond(http.StatusNotFound, "text/plain; charset=utf-8", "no-store", []byte("not found\n"), nil), nil
	}
	if name == "config.json" {
		return h.respond(http.StatusOK, "application/json", "no-store", h.config, nil), nil
	}
	a, ok := h.files[name]
	if !ok || name == "index.html" || strings.HasSuffix(name, ".html") {
		// The page itself: never cached, so a new deployment's page and
		// policy apply at once.
		return h.respond(http.StatusOK, h.files["index.html"].contentType, "no-store", h.files["index.html"].body, nil), nil
	}
	headers := map[string]string{"ETag": a.etag}
	if req.Headers["if-none-match"] == a.etag {
		return h.respond(http.StatusNotModified, a.contentType, "no-cache", nil, headers), nil
	}
	return h.respond(http.StatusOK, a.contentType, "no-cache", a.body, headers), nil
}

// respond writes a response with the portal's security headers.
func (h *Handler) respond(code int, contentType, cache string, body []byte, extra map[string]string) apigw.Response {
	headers := map[string]string{
		"Content-Type":                 contentType,
		"Cache-Control":                cache,
		"Content-Security-Policy":      h.csp,
		"X-Frame-Options":              "DENY",
		"Referrer-Policy":              "no-referrer",
		"X-Content-Type-Options":       "nosniff",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"Permissions-Policy":           "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
		"Strict-Transport-Security":    "max-age=31536000",
	}
	for k, v := range extra {
		headers[k] = v
	}
	return apigw.Response{StatusCode: code, Headers: headers, Body: string(body)}
}
