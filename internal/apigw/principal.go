package apigw

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/paykeys/paykeys/internal/key"
)

// Permission is what a route needs.
type Permission int

const (
	Read   Permission = iota // any role
	Verify                   // root, admin, developer
	Write                    // root, admin
)

var roles = map[string]Permission{
	"root":      Write,
	"admin":     Write,
	"developer": Verify,
	"viewer":    Read,
}

// maxSubject bounds the sub claim (OIDC allows 255 ASCII characters).
const maxSubject = 255

// Actor reads the caller from the JWT claims API Gateway validated and
// checks that its role may do what the route needs. Claims must be strings
// of the documented shape, or the token is 401: sub a non-empty string,
// merchant_id matching ^[A-Za-z0-9_-]{1,64}$, role a string. HTTP API hands
// claims over as strings, writing an array as "[a b]" and an object as JSON,
// so a claim of that form was not a string. An unknown or insufficient role
// is 403.
func Actor(req Request, need Permission) (key.Actor, error) {
	var claims map[string]string
	if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		claims = a.JWT.Claims
	}
	a := key.Actor{
		Subject:    claims["sub"],
		MerchantID: claims["merchant_id"],
		Role:       claims["role"],
		SourceIP:   req.RequestContext.HTTP.SourceIP,
		RequestID:  req.RequestContext.RequestID,
	}
	_, hasRole := claims["role"]
	if !validSubject(a.Subject) || !key.ValidMerchantID(a.MerchantID) || hasRole && !plainString(a.Role) {
		// Nothing of a token refused is kept, so nothing of it is logged.
		return key.Actor{SourceIP: a.SourceIP, RequestID: a.RequestID}, ErrUnauthenticated
	}
	if p, ok := roles[a.Role]; !ok || p < need {
		return a, ErrForbidden
	}
	return a, nil
}

// validSubject accepts a non-empty string claim of printable characters
// with no space at either end, so that the audit log never names a blank
// or padded actor.
func validSubject(s string) bool {
	if s == "" || len(s) > maxSubject || strings.TrimSpace(s) != s || !plainString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// plainString reports whether a claim value was a JSON string: valid UTF-8
// and not the form HTTP API gives an array ("[a b]") or an object ("{...}").
func plainString(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	t := strings.TrimSpace(s)
	return !(strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]")) &&
		!(strings.HasPrefix(t, "{") && strings.HasSuffix(t, "}"))
}
