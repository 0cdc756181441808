package key

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// ParseScopes validates scopes ("resource:action", "resource:*" or "*"),
// dropping duplicates. Nil or empty means no access.
func ParseScopes(scopes []string) ([]string, error) {
	if len(scopes) > MaxScopes {
		return nil, Invalid("at most %d scopes", MaxScopes)
	}
	out := make([]string, 0, len(scopes))
	for i, s := range scopes {
		if !validScope(s) {
			return nil, Invalid("scopes[%d] must look like resource:action, resource:* or *", i)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func validScope(s string) bool {
	if s == "*" {
		return true
	}
	if len(s) > MaxScopeLen {
		return false
	}
	res, act, ok := strings.Cut(s, ":")
	return ok && validScopeWord(res) && (act == "*" || validScopeWord(act))
}

func validScopeWord(w string) bool {
	if w == "" {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := w[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Grants reports whether granted scopes allow required. An empty required
// scope needs nothing.
func Grants(granted []string, required string) bool {
	if required == "" {
		return true
	}
	res, _, _ := strings.Cut(required, ":")
	for _, g := range granted {
		if g == "*" || g == required {
			return true
		}
		if len(g) == len(res)+2 && strings.HasSuffix(g, ":*") && g[:len(res)] == res {
			return true
		}
	}
	return false
}

// ParseAllowedIPs validates an allowlist: CIDRs, or bare addresses stored as
// /32 or /128. A CIDR with host bits set is refused. Empty means any address.
func ParseAllowedIPs(ips []string) ([]netip.Prefix, error) {
	if len(ips) > MaxAllowedIPs {
		return nil, Invalid("at most %d allowed_ips", MaxAllowedIPs)
	}
	out := make([]netip.Prefix, 0, len(ips))
	for i, s := range ips {
		p, err := parsePrefix(s)
		if err != nil {
			return nil, Invalid("allowed_ips[%d] %s", i, err.Error())
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil || p.Addr().Zone() != "" {
			return netip.Prefix{}, Invalid("is not a valid CIDR")
		}
		if p.Addr().Is4In6() {
			return netip.Prefix{}, Invalid("is an IPv4-mapped range: write IPv4 ranges in IPv4 form")
		}
		if p.Masked() != p {
			return netip.Prefix{}, Invalid("has host bits set (did you mean %s?)", p.Masked())
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, Invalid("is not a valid IP address or CIDR")
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// IPAllowed reports whether addr is inside the allowlist (empty allows all).
func IPAllowed(allowed []netip.Prefix, addr netip.Addr) bool {
	if len(allowed) == 0 {
		return true
	}
	addr = addr.Unmap()
	for _, p := range allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// PrefixStrings renders prefixes in canonical form.
func PrefixStrings(ps []netip.Prefix) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// DeclaredScopes are the scopes a deployment declares: those its routes
// require and any its configuration lists. A key may be granted only these,
// or a wildcard that matches at least one of them, so that a typo is caught
// when the key is made. The zero value declares nothing: every scope is
// refused.
type DeclaredScopes struct {
	list      []string
	resources map[string]bool
}

// NewDeclaredScopes builds the declared set from resource:action scopes
// (wildcards are not declarations), dropping duplicates.
func NewDeclaredScopes(scopes []string) (DeclaredScopes, error) {
	d := DeclaredScopes{resources: map[string]bool{}}
	for _, s := range scopes {
		if !validScope(s) || s == "*" || strings.HasSuffix(s, ":*") {
			return DeclaredScopes{}, Invalid("declared scope %q must look like resource:action", s)
		}
		if !slices.Contains(d.list, s) {
			d.list = append(d.list, s)
			res, _, _ := strings.Cut(s, ":")
			d.resources[res] = true
		}
	}
	slices.Sort(d.list)
	return d, nil
}

// List returns the declared scopes, sorted.
func (d DeclaredScopes) List() []string { return slices.Clone(d.list) }

// Check refuses a scope that is not declared, or a wildcard that matches no
// declared scope. Shapes are checked first (ParseScopes); the message names
// a refused scope, which by then has the shape of a scope, unless it could
// be part of a secret.
func (d DeclaredScopes) Check(scopes []string) error {
	if _, err := ParseScopes(scopes); err != nil {
		return err
	}
	for i, s := range scopes {
		res, _, _ := strings.Cut(s, ":")
		switch {
		case s == "*" && len(d.list) > 0,
			strings.HasSuffix(s, ":*") && d.resources[res],
			slices.Contains(d.list, s):
			continue
		}
		what := fmt.Sprintf("scopes[%d]", i)
		if !SecretShaped(s) {
			what = fmt.Sprintf("scope %q", s)
		}
		if len(d.list) == 0 {
			return Invalid("%s is not one this deployment declares; it declares no scopes", what)
		}
		return Invalid("%s is not one this deployment declares (declared: %s; or * and resource:* wildcards that match one of them)",
			what, strings.Join(d.list[:min(len(d.list), 20)], ", "))
	}
	return nil
}
