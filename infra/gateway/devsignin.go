package main

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// devSignInTTL is how long a development sign-in token lasts.
const devSignInTTL = time.Hour

var devMerchantShape = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// serveDevSignIn is the portal's development sign-in, which only this
// gateway (make dev) serves, at portal.DevTokenPath: POST
// {"merchant_id","role","sub"} as application/json answers
// {"token","expires_in"}, a token like `make token` prints. The JSON content
// type keeps other sites' pages out: a cross-origin request with it needs a
// CORS preflight, which this gateway never grants.
func (g *Gateway) serveDevSignIn(w http.ResponseWriter, r *http.Request, reqID string) {
	w.Header().Set("Cache-Control", "no-store")
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg, "request_id": reqID}})
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		fail(http.StatusMethodNotAllowed, "method_not_allowed", "development sign-in takes POST")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		fail(http.StatusUnsupportedMediaType, "invalid_request", "development sign-in takes application/json")
		return
	}
	var in struct {
		Merchant string `json:"merchant_id"`
		Role     string `json:"role"`
		Subject  string `json:"sub"`
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 4<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		fail(http.StatusBadRequest, "invalid_request", "the body must be {\"merchant_id\",\"role\",\"sub\"}")
		return
	}
	switch {
	case !devMerchantShape.MatchString(in.Merchant):
		fail(http.StatusBadRequest, "invalid_request", "merchant_id must be 1 to 64 letters, digits, _ or -")
	case !slices.Contains(tokenRoles, in.Role):
		fail(http.StatusBadRequest, "invalid_request", "role must be one of "+strings.Join(tokenRoles, ", "))
	case strings.TrimSpace(in.Subject) == "" || utf8.RuneCountInString(in.Subject) > 128 || !utf8.ValidString(in.Subject):
		fail(http.StatusBadRequest, "invalid_request", "sub must be 1 to 128 characters")
	default:
		tok, err := MintToken(g.jwt.Secret, TokenOptions{Subject: in.Subject, Merchant: in.Merchant, Role: in.Role,
			Issuer: g.jwt.Issuer, Audience: g.jwt.Audiences[0], TTL: devSignInTTL, Now: g.now()})
		if err != nil {
			g.log.Error("development sign-in failed", "request_id", reqID, "error", err.Error())
			fail(http.StatusInternalServerError, "internal", "could not mint a token")
			return
		}
		g.log.Info("development sign-in", "request_id", reqID, "merchant_id", in.Merchant, "role", in.Role, "sub", in.Subject)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": tok, "expires_in": int(devSignInTTL / time.Second)})
	}
}
