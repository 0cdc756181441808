package apigw

import (
	"github.com/paykeys/paykeys/internal/keysvc"
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

// Actor reads the caller from the JWT claims API Gateway validated and
// checks that its role may do what the route needs: no sub or merchant_id is
// 401; an unknown or insufficient role is 403.
func Actor(req Request, need Permission) (keysvc.Actor, error) {
	var claims map[string]string
	if a := req.RequestContext.Authorizer; a != nil && a.JWT != nil {
		claims = a.JWT.Claims
	}
	a := keysvc.Actor{
		Subject:    claims["sub"],
		MerchantID: claims["merchant_id"],
		Role:       claims["role"],
		SourceIP:   req.RequestContext.HTTP.SourceIP,
		RequestID:  req.RequestContext.RequestID,
	}
	if a.Subject == "" || a.MerchantID == "" {
		return a, ErrUnauthenticated
	}
	if p, ok := roles[a.Role]; !ok || p < need {
		return a, ErrForbidden
	}
	return a, nil
}
