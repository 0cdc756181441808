// Package authorizer is the API Gateway custom authorizer: it reads a REST
// API REQUEST event or an HTTP API payload 2.0 event, asks the decision core,
// and answers in the event's own format. A credential that is not proven is
// 401, a real key that may not do this is 403, and a store that cannot be read
// is an error (API Gateway answers 500): it never allows on doubt. TOKEN and
// HTTP API payload 1.0 events are refused (401), and an API whose environment
// is unknown refuses every request (403).
package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/signature"
)

// ErrUnauthorized is the error API Gateway turns into a 401.
var ErrUnauthorized = errors.New("Unauthorized")

// ErrUnavailable is returned when a store cannot be read; API Gateway answers 500.
var ErrUnavailable = errors.New("authorizer unavailable")

// Recorder is told of every decision (usage counters); it must not block.
type Recorder interface {
	Record(d authz.Decision, sourceIP string, now time.Time)
}

// Handler is the authorize function.
type Handler struct {
	Engine *authz.Engine
	Routes Routes
	// Environment is the API's environment unless the stage variable
	// environment says otherwise; with neither, every request is refused.
	Environment key.Environment
	Log         *slog.Logger
	Usage       Recorder // optional
	// PolicyForHTTPAPI answers HTTP API events with an IAM policy instead of
	// the simple response; a stage variable authorizer_response=iam asks the same.
	PolicyForHTTPAPI bool
	// Metrics counts decisions by code (Decisions) and times them
	// (DecisionLatency); optional.
	Metrics *metrics.Set
}

// Metric names.
const (
	MetricDecisions = "Decisions"
	MetricLatency   = "DecisionLatency"
)

// count records a decision's code, and its latency when it got as far as
// the engine (start is not zero).
func (h *Handler) count(code key.Code, start time.Time) {
	if h.Metrics == nil {
		return
	}
	h.Metrics.Add(MetricDecisions, 1, "Code", string(code))
	if !start.IsZero() {
		h.Metrics.Observe(MetricLatency, metrics.Milliseconds, float64(time.Since(start).Microseconds())/1000)
	}
}

// Handle decides on one event. Its result is the response object for the
// event's format, or ErrUnauthorized, or an error meaning "answer 500".
func (h *Handler) Handle(ctx context.Context, raw json.RawMessage) (any, error) {
	// An HTTP API event is read once; anything else is read again as a REST
	// API event, whose methodArn and type the first read did not keep.
	var v2 events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(raw, &v2); err == nil && v2.Version == "2.0" && v2.RouteArn != "" {
		return h.httpAPI(ctx, &v2)
	}
	var rest restEvent
	err := json.Unmarshal(raw, &rest)
	kind := eventKind{Version: rest.Version, Type: rest.Type}
	if err != nil {
		_ = json.Unmarshal(raw, &kind) // an unexpected field: still tell the format
	}
	switch {
	case kind.Version == "1.0":
		return h.unsupported(ctx, "HTTP API payload format 1.0")
	case kind.Type == "TOKEN":
		return h.unsupported(ctx, "TOKEN authorizer")
	case err == nil && kind.Version == "" && kind.Type == "REQUEST" && rest.MethodArn != "":
		return h.rest(ctx, &rest.APIGatewayCustomAuthorizerRequestTypeRequest)
	}
	reason := "unknown event format"
	if !json.Valid(raw) {
		reason = "event is not JSON"
	}
	h.Log.WarnContext(ctx, "decision", "code", key.CodeMalformed, "allow", false, "reason", reason)
	h.count(key.CodeMalformed, time.Time{})
	return nil, ErrUnauthorized
}

// restEvent is a REST API REQUEST event, with the fields that tell it apart
// from the formats the authorizer refuses: an HTTP API payload 1.0 event has
// a version, and a TOKEN event has type TOKEN.
type restEvent struct {
	events.APIGatewayCustomAuthorizerRequestTypeRequest
	Version string `json:"version"`
}

// eventKind is what names an event's format.
type eventKind struct {
	Version string `json:"version"`
	Type    string `json:"type"`
}

// unsupported refuses an event of a format the authorizer does not serve
// (401): the API in front of it is set up wrongly, which the log says.
func (h *Handler) unsupported(ctx context.Context, format string) (any, error) {
	h.Log.ErrorContext(ctx, "decision", "code", CodeUnsupportedEvent, "allow", false, "event_format", format,
		"reason", format+" events are not supported: use a REST API REQUEST authorizer or an HTTP API authorizer with payload format 2.0")
	h.count(CodeUnsupportedEvent, time.Time{})
	return nil, ErrUnauthorized
}

// call is a request in a format-neutral shape.
type call struct {
	headers     eventHeaders
	method      string
	path        string
	pathForms   []string // other forms the client may have sent path in
	query       func() (string, error)
	rawQuery    func() string // the query as sent, for RFC 9421's @query
	sourceIP    string
	stageVars   map[string]string
	requestID   string
	resourceArn string
}

func (h *Handler) rest(ctx context.Context, ev *events.APIGatewayCustomAuthorizerRequestTypeRequest) (any, error) {
	c := call{
		headers: eventHeaders{single: ev.Headers, multi: ev.MultiValueHeaders},
		method:  ev.HTTPMethod,
		path:    ev.Path, // a REST API's path never holds the stage
		query:   func() (string, error) { return signature.CanonicalQueryValues(restQuery(ev)), nil },
		// A REST API event holds only the decoded parameters: @query is
		// their canonical form, so a client signs its query in that form.
		rawQuery:    func() string { return signature.CanonicalQueryValues(restQuery(ev)) },
		sourceIP:    ev.RequestContext.Identity.SourceIP,
		stageVars:   ev.StageVariables,
		requestID:   ev.RequestContext.RequestID,
		resourceArn: ev.MethodArn,
	}
	d, allow, err := h.decide(ctx, c)
	if err != nil {
		return nil, err
	}
	return policy(d, allow, ev.MethodArn), nil
}

func (h *Handler) httpAPI(ctx context.Context, ev *events.APIGatewayV2CustomAuthorizerV2Request) (any, error) {
	path := withoutStage(ev.RawPath, ev.RequestContext.Stage)
	c := call{
		headers: eventHeaders{single: ev.Headers},
		method:  ev.RequestContext.HTTP.Method,
		// An HTTP API's rawPath is percent-decoded; the client signed the
		// path as it sent it, most likely in one of these forms.
		path:        path,
		pathForms:   signature.PathForms(path),
		query:       func() (string, error) { return signature.CanonicalQueryRaw(ev.RawQueryString) },
		rawQuery:    func() string { return ev.RawQueryString },
		sourceIP:    ev.RequestContext.HTTP.SourceIP,
		stageVars:   ev.StageVariables,
		requestID:   ev.RequestContext.RequestID,
		resourceArn: ev.RouteArn,
	}
	d, allow, err := h.decide(ctx, c)
	if err != nil {
		return nil, err
	}
	if h.PolicyForHTTPAPI || strings.EqualFold(ev.StageVariables["authorizer_response"], "iam") {
		p := policy(d, allow, ev.RouteArn)
		return events.APIGatewayV2CustomAuthorizerIAMPolicyResponse{
			PrincipalID: p.PrincipalID, PolicyDocument: p.PolicyDocument, Context: p.Context,
		}, nil
	}
	return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: allow, Context: context_(d, allow)}, nil
}

// withoutStage is an HTTP API's raw path without its stage: a named stage
// prefixes the path as the client sent it, "/<stage>/...". The prefix is cut
// only at a segment boundary, so "/production/x" on stage "prod" is kept.
func withoutStage(path, stage string) string {
	if stage == "" || stage == "$default" {
		return path
	}
	rest, ok := strings.CutPrefix(path, "/"+stage)
	switch {
	case !ok:
		return path
	case rest == "":
		return "/"
	case rest[0] == '/':
		return rest
	}
	return path
}

// decide runs the decision and logs it. It returns ErrUnauthorized for an
// unproven credential and ErrUnavailable when a store failed.
func (h *Handler) decide(ctx context.Context, c call) (authz.Decision, bool, error) {
	start := time.Now()
	method := strings.ToUpper(c.method)
	env, envProblem := h.environment(c.stageVars)
	if envProblem != "" {
		// A misconfigured API: refuse everything, before reading anything,
		// so a test key can never pass on an API nobody labelled.
		h.Log.ErrorContext(ctx, "decision", "code", CodeEnvUnknown, "allow", false, "reason", envProblem,
			"method", method, "path", c.path, "source_ip", c.sourceIP, "request_id", c.requestID)
		h.count(CodeEnvUnknown, time.Time{})
		return authz.Decision{Code: CodeEnvUnknown}, false, nil
	}
	cred := readCredentials(c.headers)
	r := authz.Request{
		Bearer:    cred.bearer,
		HMAC:      cred.hmac,
		Conflict:  cred.conflict != "",
		Method:    method,
		Path:      c.path,
		PathForms: c.pathForms,
		Need: key.Requirement{
			Environment: env,
			SourceIP:    authz.ParseIP(c.sourceIP),
			CheckIP:     true,
		},
	}
	if r.HMAC.Present() && !r.Conflict {
		r.CanonicalQuery, r.QueryErr = c.query()
	}
	if cred.sigInput != "" || cred.sig != "" {
		r.SignatureInput, r.MessageSignature = cred.sigInput, cred.sig
		r.Message, r.HasBody = message(c, method)
	}
	scope, routed := h.Routes.Scope(r.Method, c.path)
	r.Need.Scope = scope
	d, err := h.Engine.Decide(ctx, r)
	if err == nil && !routed && d.Code == key.CodeValid {
		d.Code = key.CodeInsufficientScope // a route with no configured scope is never allowed
	}
	allow := err == nil && d.Code == key.CodeValid
	h.count(d.Code, start)
	attrs := []any{
		"code", d.Code, "allow", allow, "mode", d.Mode, "key_id", d.ClientID,
		"method", r.Method, "path", key.RedactSecrets(c.path), "scope", scope, "source_ip", c.sourceIP,
		"environment", r.Need.Environment, "cache_hit", d.CacheHit, "request_id", c.requestID,
		"latency_us", time.Since(start).Microseconds(),
	}
	if cred.conflict != "" {
		attrs = append(attrs, "reason", cred.conflict)
	}
	if d.Key != nil {
		attrs = append(attrs, "merchant_id", d.Key.MerchantID, "secret_version", d.SecretVersion)
	}
	if d.PublicKeyID != "" {
		attrs = append(attrs, "public_key_id", d.PublicKeyID)
	}
	if err != nil {
		// Never counted as a denial: an outage says nothing about the caller.
		if se := (*authz.StoreError)(nil); errors.As(err, &se) {
			attrs = append(attrs, "store", se.Store)
		}
		h.Log.ErrorContext(ctx, "decision", append(attrs, "error", err.Error())...)
		return d, false, ErrUnavailable
	}
	h.Log.InfoContext(ctx, "decision", attrs...)
	if h.Usage != nil {
		h.Usage.Record(d, c.sourceIP, h.Engine.Now())
	}
	if d.Code.Unproven() {
		return d, false, ErrUnauthorized
	}
	return d, allow, nil
}

// environment is the API's environment: the stage variable environment,
// else the function's. There is no default: when neither names test or
// live, it says why instead.
func (h *Handler) environment(stageVars map[string]string) (key.Environment, string) {
	if v := stageVars["environment"]; v != "" {
		env, err := key.ParseEnvironment(v)
		if err != nil {
			return "", fmt.Sprintf("stage variable environment is %q, not test or live", truncate(v, 32))
		}
		return env, ""
	}
	if h.Environment == "" {
		return "", "the API's environment is unknown: set the stage variable environment or the function's ENVIRONMENT to test or live"
	}
	env, err := key.ParseEnvironment(string(h.Environment))
	if err != nil {
		return "", fmt.Sprintf("ENVIRONMENT is %q, not test or live", truncate(string(h.Environment), 32))
	}
	return env, ""
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// Log codes of refusals made before a key is looked at.
const (
	// CodeEnvUnknown: the API's environment is not known (403 to every request).
	CodeEnvUnknown key.Code = "ENV_UNKNOWN"
	// CodeUnsupportedEvent: a TOKEN or HTTP API payload 1.0 event (401).
	CodeUnsupportedEvent key.Code = "UNSUPPORTED_EVENT"
)

// eventHeaders are a request's headers as the event carries them. A REST
// API event keeps each name as sent, so one header may sit under several
// keys ("X-Api-Key" and "x-api-key"), and lists every value of a repeated
// header in multiValueHeaders. An HTTP API lower-cases names and joins the
// values of a repeated header with ",".
type eventHeaders struct {
	single map[string]string
	multi  map[string][]string // REST only
}

// each calls fn with every value of the header name, in any case, from
// both maps. With list, a value is read as a comma-separated list (what a
// repeated header becomes once joined), each element trimmed.
func (e eventHeaders) each(name string, list bool, fn func(string)) {
	one := func(v string) {
		if !list || !strings.Contains(v, ",") {
			fn(strings.Trim(v, " \t"))
			return
		}
		for part := range strings.SplitSeq(v, ",") {
			fn(strings.Trim(part, " \t"))
		}
	}
	for k, v := range e.single {
		if strings.EqualFold(k, name) {
			one(v)
		}
	}
	for k, vs := range e.multi {
		if strings.EqualFold(k, name) {
			for _, v := range vs {
				one(v)
			}
		}
	}
}

// values returns every value of the header name, in any case: from
// multiValueHeaders when the event has them for it (a REST event repeats
// them in headers), else from headers.
func (e eventHeaders) values(name string) []string {
	var out []string
	for k, vs := range e.multi {
		if strings.EqualFold(k, name) {
			for _, v := range vs {
				out = append(out, strings.Trim(v, " \t"))
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for k, v := range e.single {
		if strings.EqualFold(k, name) {
			out = append(out, strings.Trim(v, " \t"))
		}
	}
	return out
}

// header is one credential header: present when the request carries it at
// all (even empty), conflicting when it carries two different values.
type header struct {
	value             string
	present, conflict bool
}

func (h *header) add(v string) {
	switch {
	case !h.present:
		h.value, h.present = v, true
	case v != h.value:
		h.conflict = true
	}
}

// get reads a credential header. Secrets, client IDs, timestamps, nonces
// and hashes never contain a comma, so a comma means the header came more
// than once; X-Signature is itself a comma-separated list of signatures.
func (e eventHeaders) get(name string) header {
	if name == signature.HeaderSignature {
		return getWhole(e, name)
	}
	var h header
	e.each(name, true, h.add)
	return h
}

// getWhole reads a header whose value is itself a comma-separated list.
func getWhole(e eventHeaders, name string) header {
	var h header
	e.each(name, false, h.add)
	return h
}

// credentials is what a request presents. conflict says why it presents
// more than one credential, or is empty.
type credentials struct {
	bearer        string
	hmac          signature.Headers
	sigInput, sig string // RFC 9421 Signature-Input and Signature
	conflict      string
}

// readCredentials reads X-API-Key, Authorization: Bearer and the signature
// headers. A request presents exactly one credential: X-API-Key and
// Authorization: Bearer together (whatever their values), a bearer secret
// with any signature header, or one of them repeated with different values
// is a conflict. An Authorization header of another scheme is not ours and
// is left alone.
func readCredentials(hs eventHeaders) credentials {
	var c credentials
	apiKey := hs.get("X-API-Key")
	var auth header
	other := false
	hs.each("Authorization", true, func(v string) {
		if token, ok := bearerToken(v); ok {
			auth.add(token)
		} else {
			other = true
		}
	})
	if auth.present && other {
		auth.conflict = true // a bearer token beside something else
	}
	hmac := [...]header{
		hs.get(signature.HeaderClientID), hs.get(signature.HeaderTimestamp), hs.get(signature.HeaderNonce),
		hs.get(signature.HeaderContentSHA256), hs.get(signature.HeaderSignature),
	}
	c.hmac = signature.Headers{
		ClientID: hmac[0].value, Timestamp: hmac[1].value, Nonce: hmac[2].value,
		ContentSHA256: hmac[3].value, Signature: hmac[4].value,
	}
	// Both are dictionaries, so a comma does not mean a repeated header.
	sigInput := getWhole(hs, signature.HeaderSignatureInput)
	sig := getWhole(hs, signature.HeaderMessageSig)
	c.sigInput, c.sig = sigInput.value, sig.value
	message := sigInput.present || sig.present
	signed, repeated := false, apiKey.conflict || auth.conflict || sigInput.conflict || sig.conflict
	for _, h := range hmac {
		signed = signed || h.present
		repeated = repeated || h.conflict
	}
	switch {
	case repeated:
		c.conflict = "a credential header is repeated with different values"
	case apiKey.present && auth.present:
		c.conflict = "X-API-Key and Authorization: Bearer together"
	case (apiKey.present || auth.present) && (signed || message):
		c.conflict = "a bearer secret and signature headers together"
	case signed && message:
		c.conflict = "HMAC headers and RFC 9421 signature headers together"
	}
	if apiKey.present {
		c.bearer = apiKey.value
	} else {
		c.bearer = auth.value
	}
	return c
}

// message is the request as RFC 9421 sees it: @authority from Host (the
// scheme from X-Forwarded-Proto, which API Gateway sets; https otherwise),
// @path as the backend serves it, @query as sent, and header fields with
// their values joined by ", ". It has a body when Content-Length is above 0,
// or Transfer-Encoding or Content-Digest is present.
func message(c call, method string) (signature.Message, bool) {
	field := func(name string) (string, bool) {
		vs := c.headers.values(name)
		return strings.Join(vs, ", "), len(vs) > 0
	}
	scheme := "https"
	if p, ok := field("X-Forwarded-Proto"); ok && strings.EqualFold(p, "http") {
		scheme = "http"
	}
	host, _ := field("Host")
	m := signature.Message{
		Method: method, Scheme: scheme, Authority: signature.Authority(host, scheme),
		Path: c.path, Query: c.rawQuery(), Header: field,
	}
	_, te := field("Transfer-Encoding")
	_, cd := field(signature.HeaderContentDigest)
	cl, _ := field("Content-Length")
	n, err := strconv.ParseInt(strings.TrimSpace(cl), 10, 64)
	return m, te || cd || err == nil && n > 0 || cl != "" && err != nil
}

// bearerToken returns the token of an Authorization value of the Bearer
// scheme (case-insensitive), which may be empty.
func bearerToken(v string) (string, bool) {
	if len(v) < 6 || !strings.EqualFold(v[:6], "bearer") || len(v) > 6 && v[6] != ' ' && v[6] != '\t' {
		return "", false
	}
	return strings.Trim(v[6:], " \t"), true
}

func restQuery(ev *events.APIGatewayCustomAuthorizerRequestTypeRequest) map[string][]string {
	if len(ev.MultiValueQueryStringParameters) > 0 {
		return ev.MultiValueQueryStringParameters
	}
	q := make(map[string][]string, len(ev.QueryStringParameters))
	for k, v := range ev.QueryStringParameters {
		q[k] = []string{v}
	}
	return q
}

// context_ is the Allow context: all strings, as API Gateway passes them on.
func context_(d authz.Decision, allow bool) map[string]any {
	if !allow {
		return nil
	}
	k := d.Key
	return map[string]any{
		"merchant_id":    k.MerchantID,
		"key_id":         k.ID,
		"environment":    string(k.Environment),
		"currency":       string(k.Currency),
		"scopes":         strings.Join(k.Scopes, " "),
		"secret_version": strconv.Itoa(d.SecretVersion),
		"auth_mode":      string(d.Mode),
	}
}

func policy(d authz.Decision, allow bool, resource string) events.APIGatewayCustomAuthorizerResponse {
	effect := "Deny"
	if allow {
		effect = "Allow"
	}
	principal := d.ClientID
	if principal == "" {
		principal = "unknown" // a refusal made before any key was named (ENV_UNKNOWN)
	}
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: principal,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource},
			}},
		},
		Context: context_(d, allow),
	}
}

// Routes maps the payment API's routes to the scope each needs (key.Routes).
type Routes = key.Routes

// ParseRoutes reads ROUTE_SCOPES (key.ParseRoutes).
func ParseRoutes(s string) (Routes, error) { return key.ParseRoutes(s) }
