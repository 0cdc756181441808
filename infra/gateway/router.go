package main

import (
	"fmt"
	"sort"
	"strings"
)

// segment kinds, in the order API Gateway prefers them.
const (
	segLiteral = iota
	segParam
	segGreedy
)

type segment struct {
	kind    int
	literal string // segLiteral
	name    string // segParam, segGreedy
}

type compiledRoute struct {
	route Route
	segs  []segment
}

// Router matches requests to routes the way an HTTP API does: a route whose
// path matches literally beats one with path variables, which beats a greedy
// {name+} variable (compared segment by segment, left to right); for equal
// paths an exact method beats ANY; the $default route matches last. A path
// variable matches one non-empty segment; a greedy one matches the rest of
// the path (at least one character). Anything else is not found, whatever
// the method (API Gateway answers 404, not 405).
type Router struct {
	routes []compiledRoute
	def    *Route
}

var knownMethods = map[string]bool{
	"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true,
	"HEAD": true, "OPTIONS": true, "ANY": true,
}

// NewRouter validates the routes (methods, path templates, duplicates).
func NewRouter(routes []Route) (*Router, error) {
	rt := &Router{}
	seen := map[string]Route{}
	for _, r := range routes {
		key := r.Key()
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("route %q is declared twice (%s.%s and %s.%s)",
				key, prev.FunctionLogicalID, prev.Event, r.FunctionLogicalID, r.Event)
		}
		seen[key] = r
		if r.Path == defaultRouteKey {
			def := r
			rt.def = &def
			continue
		}
		if !knownMethods[r.Method] {
			return nil, fmt.Errorf("route %q: unsupported method %q", key, r.Method)
		}
		segs, err := parsePathTemplate(r.Path)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", key, err)
		}
		rt.routes = append(rt.routes, compiledRoute{route: r, segs: segs})
	}
	sort.SliceStable(rt.routes, func(i, j int) bool { return rt.routes[i].better(rt.routes[j]) })
	return rt, nil
}

func parsePathTemplate(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("path must start with /")
	}
	parts := strings.Split(path[1:], "/")
	segs := make([]segment, 0, len(parts))
	names := map[string]bool{}
	for i, p := range parts {
		if !strings.HasPrefix(p, "{") {
			if strings.ContainsAny(p, "{}") {
				return nil, fmt.Errorf("path variable must be a whole segment: %q", p)
			}
			if p == "" && len(parts) > 1 {
				return nil, fmt.Errorf("empty path segment")
			}
			segs = append(segs, segment{kind: segLiteral, literal: p})
			continue
		}
		if !strings.HasSuffix(p, "}") || len(p) < 3 {
			return nil, fmt.Errorf("malformed path variable %q", p)
		}
		name, greedy := strings.CutSuffix(p[1:len(p)-1], "+")
		if name == "" || strings.ContainsAny(name, "{}/+") {
			return nil, fmt.Errorf("malformed path variable %q", p)
		}
		if names[name] {
			return nil, fmt.Errorf("path variable %q used twice", name)
		}
		names[name] = true
		if greedy {
			if i != len(parts)-1 {
				return nil, fmt.Errorf("greedy path variable %q must be the last segment", p)
			}
			segs = append(segs, segment{kind: segGreedy, name: name})
			continue
		}
		segs = append(segs, segment{kind: segParam, name: name})
	}
	return segs, nil
}

// better reports whether a is more specific than b.
func (a compiledRoute) better(b compiledRoute) bool {
	for i := 0; i < len(a.segs) && i < len(b.segs); i++ {
		if a.segs[i].kind != b.segs[i].kind {
			return a.segs[i].kind < b.segs[i].kind
		}
	}
	if len(a.segs) != len(b.segs) {
		// Only reachable between routes that cannot both match one path,
		// except a greedy tail against a longer path: keep longer first.
		return len(a.segs) > len(b.segs)
	}
	aAny, bAny := a.route.Method == "ANY", b.route.Method == "ANY"
	if aAny != bAny {
		return !aAny
	}
	return false
}

func (c compiledRoute) match(method string, parts []string) (map[string]string, bool) {
	if c.route.Method != "ANY" && c.route.Method != method {
		return nil, false
	}
	var params map[string]string
	for i, s := range c.segs {
		if i >= len(parts) {
			return nil, false
		}
		switch s.kind {
		case segLiteral:
			if parts[i] != s.literal {
				return nil, false
			}
		case segParam:
			if parts[i] == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.name] = parts[i]
		case segGreedy:
			rest := strings.Join(parts[i:], "/")
			if rest == "" {
				return nil, false
			}
			if params == nil {
				params = map[string]string{}
			}
			params[s.name] = rest
			return params, true
		}
	}
	if len(parts) != len(c.segs) {
		return nil, false
	}
	return params, true
}

// Match finds the route for a request. path is the request path (decoded, as
// HTTP APIs route on it). params holds the path variables, nil when none.
func (rt *Router) Match(method, path string) (route Route, params map[string]string, ok bool) {
	if strings.HasPrefix(path, "/") {
		parts := strings.Split(path[1:], "/")
		// Routes are sorted most specific first, so the first match wins.
		for _, c := range rt.routes {
			if p, ok := c.match(method, parts); ok {
				return c.route, p, true
			}
		}
	}
	if rt.def != nil {
		return *rt.def, nil, true
	}
	return Route{}, nil, false
}

// Routes returns the routes in matching order ($default last).
func (rt *Router) Routes() []Route {
	out := make([]Route, 0, len(rt.routes)+1)
	for _, c := range rt.routes {
		out = append(out, c.route)
	}
	if rt.def != nil {
		out = append(out, *rt.def)
	}
	return out
}
