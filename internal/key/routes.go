package key

import (
	"fmt"
	"slices"
	"strings"
)

// Routes maps "METHOD /path" patterns to the scope a request needs. Patterns
// are tried in order and the first match wins; a request no pattern matches is
// denied. In a path, "{name}" or "*" matches one segment and "{name+}" the
// rest (one or more segments); METHOD may be ANY.
type Routes []routeScope

type routeScope struct {
	method string
	segs   []string
	scope  string
}

// ParseRoutes reads "METHOD /path=scope" entries separated by ';' or newlines.
func ParseRoutes(s string) (Routes, error) {
	var rs Routes
	for _, entry := range strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '\n' }) {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		pattern, scope, ok := strings.Cut(entry, "=")
		method, path, ok2 := strings.Cut(strings.TrimSpace(pattern), " ")
		path, scope = strings.TrimSpace(path), strings.TrimSpace(scope)
		if !ok || !ok2 || !strings.HasPrefix(path, "/") {
			return nil, fmt.Errorf("route scope %q: want METHOD /path=scope", entry)
		}
		if _, err := ParseScopes([]string{scope}); err != nil || scope == "*" || strings.HasSuffix(scope, ":*") {
			return nil, fmt.Errorf("route scope %q: %q is not a resource:action scope", entry, scope)
		}
		segs := strings.Split(strings.Trim(path, "/"), "/")
		for i, sg := range segs {
			if strings.HasSuffix(sg, "+}") && i != len(segs)-1 {
				return nil, fmt.Errorf("route scope %q: a greedy segment must come last", entry)
			}
		}
		rs = append(rs, routeScope{method: strings.ToUpper(method), segs: segs, scope: scope})
	}
	return rs, nil
}

// Scopes lists the scopes the routes require, each once, in route order.
func (rs Routes) Scopes() []string {
	var out []string
	for _, r := range rs {
		if !slices.Contains(out, r.scope) {
			out = append(out, r.scope)
		}
	}
	return out
}

// Scope returns the scope a request needs, and false when no route matches.
func (rs Routes) Scope(method, path string) (string, bool) {
	for _, r := range rs {
		if (r.method == "ANY" || r.method == method) && matchPath(r.segs, path) {
			return r.scope, true
		}
	}
	return "", false
}

func matchPath(segs []string, path string) bool {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return false
	}
	more := true
	for _, sg := range segs {
		if strings.HasPrefix(sg, "{") && strings.HasSuffix(sg, "+}") {
			return more && rest != ""
		}
		if !more {
			return false
		}
		var part string
		part, rest, more = strings.Cut(rest, "/")
		oneSegment := sg == "*" || strings.HasPrefix(sg, "{") && strings.HasSuffix(sg, "}")
		if part == "" || !oneSegment && sg != part {
			return false
		}
	}
	return !more
}
