// Package authorizer is the API Gateway custom authorizer: it reads a REST
// API REQUEST event or an HTTP API payload 2.0 event, asks the decision core,
// and answers in the event's own format. A credential that is not proven is
// 401, a real key that may not do this is 403, and a store that cannot be read
// is an error (API Gateway answers 500): it never allows on doubt.
package authorizer

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
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
	Engine      *authz.Engine
	Routes      Routes
	Environment key.Environment // the API's environment unless a stage variable says otherwise
	Log         *slog.Logger
	Usage       Recorder // optional
	// PolicyForHTTPAPI answers HTTP API events with an IAM policy instead of
	// the simple response; a stage variable authorizer_response=iam asks the same.
	PolicyForHTTPAPI bool
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
	var rest events.APIGatewayCustomAuthorizerRequestTypeRequest
	err := json.Unmarshal(raw, &rest)
	if err == nil && rest.Type == "REQUEST" && rest.MethodArn != "" {
		return h.rest(ctx, &rest)
	}
	reason := "unknown event format"
	if !json.Valid(raw) {
		reason = "event is not JSON"
	}
	h.Log.WarnContext(ctx, "decision", "code", key.CodeMalformed, "allow", false, "reason", reason)
	return nil, ErrUnauthorized
}

// call is a request in a format-neutral shape.
type call struct {
	headers     func(name string) string
	method      string
	path        string
	query       func() (string, error)
	sourceIP    string
	stageVars   map[string]string
	requestID   string
	resourceArn string
}

func (h *Handler) rest(ctx context.Context, ev *events.APIGatewayCustomAuthorizerRequestTypeRequest) (any, error) {
	c := call{
		headers:     headerFunc(ev.Headers),
		method:      ev.HTTPMethod,
		path:        ev.Path,
		query:       func() (string, error) { return signature.CanonicalQueryValues(restQuery(ev)), nil },
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
	path := ev.RawPath
	if st := ev.RequestContext.Stage; st != "" && st != "$default" {
		path = strings.TrimPrefix(path, "/"+st) // the path as the client sent it, without the stage
	}
	c := call{
		headers:     headerFunc(ev.Headers),
		method:      ev.RequestContext.HTTP.Method,
		path:        path,
		query:       func() (string, error) { return signature.CanonicalQueryRaw(ev.RawQueryString) },
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

// decide runs the decision and logs it. It returns ErrUnauthorized for an
// unproven credential and ErrUnavailable when a store failed.
func (h *Handler) decide(ctx context.Context, c call) (authz.Decision, bool, error) {
	start := time.Now()
	r := authz.Request{
		Bearer: bearer(c.headers),
		HMAC: signature.Headers{
			ClientID: c.headers(signature.HeaderClientID), Timestamp: c.headers(signature.HeaderTimestamp),
			Nonce: c.headers(signature.HeaderNonce), ContentSHA256: c.headers(signature.HeaderContentSHA256),
			Signature: c.headers(signature.HeaderSignature),
		},
		Method: strings.ToUpper(c.method),
		Path:   c.path,
		Need: key.Requirement{
			Environment: h.environment(c.stageVars),
			SourceIP:    authz.ParseIP(c.sourceIP),
			CheckIP:     true,
		},
	}
	if r.HMAC.Present() {
		r.CanonicalQuery, r.QueryErr = c.query()
	}
	scope, routed := h.Routes.Scope(r.Method, c.path)
	r.Need.Scope = scope
	d, err := h.Engine.Decide(ctx, r)
	if err == nil && !routed && d.Code == key.CodeValid {
		d.Code = key.CodeInsufficientScope // a route with no configured scope is never allowed
	}
	allow := err == nil && d.Code == key.CodeValid
	attrs := []any{
		"code", d.Code, "allow", allow, "mode", d.Mode, "key_id", d.ClientID,
		"method", r.Method, "path", key.RedactSecrets(c.path), "scope", scope, "source_ip", c.sourceIP,
		"environment", r.Need.Environment, "cache_hit", d.CacheHit, "request_id", c.requestID,
		"latency_us", time.Since(start).Microseconds(),
	}
	if d.Key != nil {
		attrs = append(attrs, "merchant_id", d.Key.MerchantID, "secret_version", d.SecretVersion)
	}
	if err != nil {
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

func (h *Handler) environment(stageVars map[string]string) key.Environment {
	if env := stageVars["environment"]; env != "" {
		return key.Environment(env) // an unknown value matches no key, so denies
	}
	return h.Environment
}

// bearer returns the secret of X-API-Key, else of Authorization: Bearer.
func bearer(header func(string) string) string {
	if v := header("X-API-Key"); v != "" {
		return v
	}
	auth := header("Authorization")
	if len(auth) > 7 && strings.EqualFold(auth[:7], "bearer ") {
		return strings.TrimSpace(auth[7:])
	}
	return ""
}

// headerFunc looks headers up case-insensitively.
func headerFunc(h map[string]string) func(string) string {
	return func(name string) string {
		if v, ok := h[strings.ToLower(name)]; ok {
			return v
		}
		for k, v := range h {
			if strings.EqualFold(k, name) {
				return v
			}
		}
		return ""
	}
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
	return events.APIGatewayCustomAuthorizerResponse{
		PrincipalID: d.ClientID,
		PolicyDocument: events.APIGatewayCustomAuthorizerPolicy{
			Version: "2012-10-17",
			Statement: []events.IAMPolicyStatement{{
				Action: []string{"execute-api:Invoke"}, Effect: effect, Resource: []string{resource},
			}},
		},
		Context: context_(d, allow),
	}
}
