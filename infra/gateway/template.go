package main

import (
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paykeys/paykeys/internal/cfn"
)

const (
	// implicitHTTPAPI is the logical ID SAM gives the HTTP API it creates for
	// HttpApi events that name no ApiId.
	implicitHTTPAPI = "ServerlessHttpApi"
	// defaultRouteKey is API Gateway's catch-all route.
	defaultRouteKey = "$default"
	// maxIntegrationTimeout is the longest an HTTP API waits for a Lambda
	// integration (and the default when an event sets no TimeoutInMillis).
	maxIntegrationTimeout = 30 * time.Second
	// defaultFunctionTimeout applies when the template sets no Timeout. SAM's
	// own default is 3 s; locally a first call into the emulators can be
	// slower than that, so the gateway allows up to the integration limit.
	defaultFunctionTimeout = maxIntegrationTimeout
)

// AuthKind says how API Gateway authorizes a route.
type AuthKind int

const (
	// AuthNone: the route is open (Authorizer NONE), or IAM-authorized in AWS
	// (Authorizer AWS_IAM), which the local gateway serves without auth.
	AuthNone AuthKind = iota
	// AuthJWT: API Gateway's JWT authorizer; locally an HS256 token signed
	// with DEV_JWT_SECRET.
	AuthJWT
	// AuthLambda: a Lambda authorizer function.
	AuthLambda
)

func (k AuthKind) String() string {
	switch k {
	case AuthNone:
		return "none"
	case AuthJWT:
		return "jwt"
	case AuthLambda:
		return "lambda"
	}
	return "unknown"
}

// RouteAuth is a route's authorization as resolved from the template.
type RouteAuth struct {
	Kind AuthKind
	// Authorizer is the name the template uses: "NONE", "AWS_IAM" or the key
	// under the API's Auth.Authorizers.
	Authorizer string
	// Scopes are the route's AuthorizationScopes (JWT): the token must carry
	// at least one of them.
	Scopes []string
	// TokenHeader is the lower-cased header a JWT is read from
	// (IdentitySource $request.header.X; default authorization).
	TokenHeader string

	// Function is the Lambda authorizer's function name.
	Function string
	// PayloadVersion is the Lambda authorizer's payload format, "1.0" or "2.0".
	PayloadVersion string
	// SimpleResponses is EnableSimpleResponses (payload 2.0 only).
	SimpleResponses bool
	// IdentityHeaders and IdentityQueryStrings are the identity sources that
	// must all be present, or API Gateway answers 401 without calling the
	// authorizer. Header names are lower-cased.
	IdentityHeaders      []string
	IdentityQueryStrings []string
	// Timeout is the authorizer function's Timeout.
	Timeout time.Duration
}

// Route is one HttpApi event of an AWS::Serverless::Function.
type Route struct {
	// Method is upper case; "ANY" matches every method.
	Method string
	// Path is the path template ("/v1/keys/{id}", "/demo/{proxy+}"), or
	// "$default" for the catch-all route.
	Path string
	// Function is the handler name: the function's logical ID without its
	// "Function" suffix, lower-cased ("CreateFunction" -> "create").
	Function string
	// FunctionLogicalID and Event name where the route is declared.
	FunctionLogicalID string
	Event             string
	// API is the logical ID of the AWS::Serverless::HttpApi serving the route.
	API  string
	Auth RouteAuth
	// Timeout is the function's Timeout; IntegrationTimeout the event's
	// TimeoutInMillis (at most 30 s).
	Timeout            time.Duration
	IntegrationTimeout time.Duration
	// StageVariables are the API's stage variables.
	StageVariables map[string]string
}

// Key is the route key as API Gateway writes it: "POST /v1/keys", "$default".
func (r Route) Key() string {
	switch r.Path {
	case defaultRouteKey:
		return defaultRouteKey
	case "":
		return ""
	}
	return r.Method + " " + r.Path
}

// functionName turns a function's logical ID into its handler name.
func functionName(logicalID string) string {
	return strings.ToLower(strings.TrimSuffix(logicalID, "Function"))
}

// LoadTemplate reads a SAM template and returns its HTTP API routes, plus
// warnings about what the local gateway does not serve as AWS would.
func LoadTemplate(path string) ([]Route, []string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read template: %w", err)
	}
	routes, warnings, err := ParseTemplate(data)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return routes, warnings, nil
}

// ParseTemplate returns the HTTP API routes of a SAM template, in template
// order. The template is read as a YAML node tree, so CloudFormation's short
// intrinsic tags (!Ref, !Sub, !GetAtt, ...) need no special support; they are
// only interpreted where the gateway needs a value (an ApiId, a FunctionArn).
func ParseTemplate(data []byte) ([]Route, []string, error) {
	root, err := cfn.Parse(data)
	if err != nil {
		return nil, nil, err
	}
	resources := cfn.Get(root, "Resources")
	if resources == nil || resources.Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("parse template: no Resources mapping")
	}
	globals := cfn.Get(root, "Globals")
	p := &templateParser{
		root:           root,
		resources:      resources,
		globalFunction: cfn.Get(globals, "Function"),
		globalHTTPAPI:  cfn.Get(globals, "HttpApi"),
	}
	return p.routes()
}

type templateParser struct {
	root           *yaml.Node
	resources      *yaml.Node
	globalFunction *yaml.Node
	globalHTTPAPI  *yaml.Node
	warnings       []string
}

func (p *templateParser) warnf(format string, args ...any) {
	p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
}

func (p *templateParser) routes() ([]Route, []string, error) {
	var routes []Route
	for logicalID, res := range cfn.Resources(p.root, "AWS::Serverless::Function") {
		props := cfn.Get(res, "Properties")
		timeout := p.functionTimeout(props)
		for eventName, ev := range cfn.Pairs(cfn.Get(props, "Events")) {
			where := logicalID + ".Events." + eventName
			switch typ, _ := cfn.Scalar(cfn.Get(ev, "Type")); typ {
			case "HttpApi":
				r, err := p.httpAPIRoute(logicalID, eventName, cfn.Get(ev, "Properties"), timeout)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: %w", where, err)
				}
				if r != nil {
					routes = append(routes, *r)
				}
			case "Api":
				p.warnf("%s: REST API (Type: Api) events are not served by the local gateway", where)
			}
		}
	}
	return routes, p.warnings, nil
}

func (p *templateParser) httpAPIRoute(logicalID, eventName string, props *yaml.Node, timeout time.Duration) (*Route, error) {
	where := logicalID + ".Events." + eventName
	r := &Route{
		Function:           functionName(logicalID),
		FunctionLogicalID:  logicalID,
		Event:              eventName,
		API:                implicitHTTPAPI,
		Timeout:            timeout,
		IntegrationTimeout: maxIntegrationTimeout,
	}
	pathNode, methodNode := cfn.Get(props, "Path"), cfn.Get(props, "Method")
	switch {
	case pathNode == nil && methodNode == nil:
		// SAM makes an event without Path and Method the $default route.
		r.Path, r.Method = defaultRouteKey, "ANY"
	case pathNode == nil || methodNode == nil:
		return nil, fmt.Errorf("HttpApi event needs both Path and Method, or neither")
	default:
		path, ok := cfn.Scalar(pathNode)
		if !ok {
			p.warnf("%s: Path is not a plain string; route skipped", where)
			return nil, nil
		}
		method, ok := cfn.Scalar(methodNode)
		if !ok {
			p.warnf("%s: Method is not a plain string; route skipped", where)
			return nil, nil
		}
		r.Path, r.Method = path, normalizeMethod(method)
	}
	if v, ok := cfn.Scalar(cfn.Get(props, "PayloadFormatVersion")); ok && normalizeVersion(v) != "2.0" {
		p.warnf("%s: PayloadFormatVersion %s is not served by the local gateway (it builds 2.0 events); route skipped", where, v)
		return nil, nil
	}
	if v, ok := cfn.Scalar(cfn.Get(props, "TimeoutInMillis")); ok {
		ms, err := strconv.Atoi(v)
		if err != nil || ms <= 0 {
			return nil, fmt.Errorf("TimeoutInMillis %q is not a positive integer", v)
		}
		if d := time.Duration(ms) * time.Millisecond; d < r.IntegrationTimeout {
			r.IntegrationTimeout = d
		}
	}
	if apiNode := cfn.Get(props, "ApiId"); apiNode != nil {
		api, ok := cfn.Ref(apiNode)
		if !ok {
			return nil, fmt.Errorf("ApiId is neither !Ref nor {Ref: ...}")
		}
		r.API = api
	}
	api := cfn.Get(p.resources, r.API)
	if r.API != implicitHTTPAPI {
		if typ, _ := cfn.Scalar(cfn.Get(api, "Type")); typ != "AWS::Serverless::HttpApi" {
			return nil, fmt.Errorf("ApiId %s is not an AWS::Serverless::HttpApi in this template", r.API)
		}
	}
	apiProps := cfn.Get(api, "Properties")
	r.StageVariables = p.stageVariables(apiProps)
	auth, err := p.routeAuth(where, r.API, apiProps, cfn.Get(props, "Auth"))
	if err != nil {
		return nil, err
	}
	r.Auth = auth
	return r, nil
}

// routeAuth resolves the route's authorizer: the event's Auth.Authorizer, else
// the API's DefaultAuthorizer, then looked up in the API's Auth.Authorizers
// (falling back to Globals.HttpApi.Auth for both).
func (p *templateParser) routeAuth(where, api string, apiProps, eventAuth *yaml.Node) (RouteAuth, error) {
	apiAuth := cfn.Get(apiProps, "Auth")
	globalAuth := cfn.Get(p.globalHTTPAPI, "Auth")
	lookup := func(key string) *yaml.Node {
		if n := cfn.Get(apiAuth, key); n != nil {
			return n
		}
		return cfn.Get(globalAuth, key)
	}

	name, _ := cfn.Scalar(cfn.Get(eventAuth, "Authorizer"))
	if name == "" {
		name, _ = cfn.Scalar(lookup("DefaultAuthorizer"))
	}
	auth := RouteAuth{Authorizer: name, TokenHeader: "authorization"}
	auth.Scopes = cfn.Strings(cfn.Get(eventAuth, "AuthorizationScopes"))

	switch name {
	case "NONE", "AWS_IAM":
		auth.Kind = AuthNone
		return auth, nil
	case "":
		p.warnf("%s: no authorizer in the template (deployed, the route would be open); requiring a JWT locally", where)
		auth.Kind = AuthJWT
		return auth, nil
	}

	def := cfn.Get(lookup("Authorizers"), name)
	if def == nil {
		p.warnf("%s: authorizer %s is not defined on %s; treating it as a JWT authorizer", where, name, api)
		auth.Kind = AuthJWT
		return auth, nil
	}
	if len(auth.Scopes) == 0 {
		auth.Scopes = cfn.Strings(cfn.Get(def, "AuthorizationScopes"))
	}
	if fnNode := cfn.Get(def, "FunctionArn"); fnNode != nil {
		logicalID, ok := functionRef(fnNode)
		if !ok {
			return auth, fmt.Errorf("authorizer %s: FunctionArn does not name a function of this template (use !GetAtt XFunction.Arn)", name)
		}
		if typ, _ := cfn.Scalar(cfn.Get(cfn.Get(p.resources, logicalID), "Type")); typ != "AWS::Serverless::Function" {
			return auth, fmt.Errorf("authorizer %s: %s is not an AWS::Serverless::Function", name, logicalID)
		}
		auth.Kind = AuthLambda
		auth.Function = functionName(logicalID)
		auth.Timeout = p.functionTimeout(cfn.Get(cfn.Get(p.resources, logicalID), "Properties"))
		auth.PayloadVersion = "2.0"
		if v, ok := cfn.Scalar(cfn.Get(def, "AuthorizerPayloadFormatVersion")); ok {
			auth.PayloadVersion = normalizeVersion(v)
		}
		if auth.PayloadVersion != "1.0" && auth.PayloadVersion != "2.0" {
			return auth, fmt.Errorf("authorizer %s: AuthorizerPayloadFormatVersion %q is neither 1.0 nor 2.0", name, auth.PayloadVersion)
		}
		if v, ok := cfn.Scalar(cfn.Get(def, "EnableSimpleResponses")); ok {
			auth.SimpleResponses, _ = strconv.ParseBool(v)
		}
		identity := cfn.Get(def, "Identity")
		for _, h := range cfn.Strings(cfn.Get(identity, "Headers")) {
			auth.IdentityHeaders = append(auth.IdentityHeaders, strings.ToLower(h))
		}
		auth.IdentityQueryStrings = cfn.Strings(cfn.Get(identity, "QueryStrings"))
		return auth, nil
	}
	auth.Kind = AuthJWT
	if src, ok := cfn.Scalar(cfn.Get(def, "IdentitySource")); ok {
		if h, found := strings.CutPrefix(src, "$request.header."); found && h != "" {
			auth.TokenHeader = strings.ToLower(h)
		}
	}
	return auth, nil
}

func (p *templateParser) functionTimeout(props *yaml.Node) time.Duration {
	for _, n := range []*yaml.Node{cfn.Get(props, "Timeout"), cfn.Get(p.globalFunction, "Timeout")} {
		if v, ok := cfn.Scalar(n); ok {
			if s, err := strconv.Atoi(v); err == nil && s > 0 {
				return time.Duration(s) * time.Second
			}
		}
	}
	return defaultFunctionTimeout
}

func (p *templateParser) stageVariables(apiProps *yaml.Node) map[string]string {
	vars := cfn.Get(apiProps, "StageVariables")
	if vars == nil {
		vars = cfn.Get(p.globalHTTPAPI, "StageVariables")
	}
	out := map[string]string{}
	for name, n := range cfn.Pairs(vars) {
		if v, ok := cfn.Scalar(n); ok {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func normalizeMethod(m string) string {
	m = strings.ToUpper(strings.TrimSpace(m))
	if m == "*" || m == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
		return "ANY"
	}
	return m
}

func normalizeVersion(v string) string {
	switch v = strings.TrimSpace(v); v {
	case "1":
		return "1.0"
	case "2":
		return "2.0"
	}
	return v
}

var subFunctionRef = regexp.MustCompile(`\$\{([A-Za-z0-9]+)(?:\.Arn)?\}`)

// functionRef reads the logical ID out of a function ARN reference:
// `!GetAtt X.Arn`, `!GetAtt [X, Arn]`, `{Fn::GetAtt: ...}`, `!Ref X`, or a
// `!Sub` string naming `${X.Arn}`.
func functionRef(n *yaml.Node) (string, bool) {
	n = cfn.Resolve(n)
	if n == nil {
		return "", false
	}
	getAtt := func(v *yaml.Node) (string, bool) {
		v = cfn.Resolve(v)
		switch {
		case v == nil:
			return "", false
		case v.Kind == yaml.ScalarNode:
			id, _, _ := strings.Cut(v.Value, ".")
			return id, id != ""
		case v.Kind == yaml.SequenceNode && len(v.Content) > 0:
			id := cfn.Resolve(v.Content[0]).Value
			return id, id != ""
		}
		return "", false
	}
	switch n.Tag {
	case "!GetAtt":
		return getAtt(n)
	case "!Ref":
		return n.Value, n.Value != ""
	case "!Sub":
		if n.Kind == yaml.ScalarNode {
			if m := subFunctionRef.FindStringSubmatch(n.Value); m != nil {
				return m[1], true
			}
		}
		return "", false
	}
	if v := cfn.Get(n, "Fn::GetAtt"); v != nil {
		return getAtt(v)
	}
	if v, ok := cfn.Scalar(cfn.Get(n, "Fn::Sub")); ok {
		if m := subFunctionRef.FindStringSubmatch(v); m != nil {
			return m[1], true
		}
	}
	return cfn.Ref(n)
}
