package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// Invoker is a Lambda function invoked with its raw JSON event, the way the
// Lambda runtime does it. lambda.NewHandler(fn) from
// github.com/aws/aws-lambda-go/lambda returns one for any handler function
// lambda.Start accepts, so an authorizer whose handler takes its own event
// type (or json.RawMessage) plugs in unchanged.
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) ([]byte, error)
}

var (
	authorizerRegistryMu sync.Mutex
	authorizerRegistry   = map[string]Invoker{}
)

// registerAuthorizer makes a Lambda authorizer function available to routes
// whose template authorizer names it (FunctionArn: !GetAtt XFunction.Arn),
// under the same name as handlers use ("AuthorizeFunction" -> "authorize").
// Call it from handlers() in wiring.go:
//
//	registerAuthorizer("authorize", lambda.NewHandler(authz.Handle))
func registerAuthorizer(name string, fn Invoker) {
	authorizerRegistryMu.Lock()
	defer authorizerRegistryMu.Unlock()
	authorizerRegistry[name] = fn
}

func registeredAuthorizers() map[string]Invoker {
	authorizerRegistryMu.Lock()
	defer authorizerRegistryMu.Unlock()
	out := make(map[string]Invoker, len(authorizerRegistry))
	for k, v := range authorizerRegistry {
		out[k] = v
	}
	return out
}

// serialInvoker runs one invocation at a time, as one Lambda execution
// environment does. It also copies the result before the next invocation:
// the Invoker from lambda.NewHandler returns a slice of a pooled buffer that
// the next invocation reuses.
type serialInvoker struct {
	mu sync.Mutex
	fn Invoker
}

func (s *serialInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.fn.Invoke(ctx, payload)
	return append([]byte(nil), out...), err
}

// lambdaAuthorizerEvent builds the event an HTTP API sends a Lambda
// authorizer, in the authorizer's payload format. identity is the values of
// its identity sources.
func lambdaAuthorizerEvent(ev events.APIGatewayV2HTTPRequest, auth RouteAuth, routeArn string, identity []string) any {
	if auth.PayloadVersion == "1.0" {
		resource := ev.RouteKey
		if _, p, ok := strings.Cut(ev.RouteKey, " "); ok {
			resource = p
		}
		return events.APIGatewayV2CustomAuthorizerV1Request{
			Version:               "1.0",
			Type:                  "REQUEST",
			MethodArn:             routeArn,
			IdentitySource:        strings.Join(identity, ","),
			AuthorizationToken:    ev.Headers["authorization"],
			Resource:              resource,
			Path:                  ev.RawPath,
			HTTPMethod:            ev.RequestContext.HTTP.Method,
			Headers:               ev.Headers,
			QueryStringParameters: ev.QueryStringParameters,
			PathParameters:        ev.PathParameters,
			StageVariables:        ev.StageVariables,
			RequestContext: events.APIGatewayV2CustomAuthorizerV1RequestTypeRequestContext{
				Path:         ev.RawPath,
				AccountID:    ev.RequestContext.AccountID,
				Stage:        ev.RequestContext.Stage,
				RequestID:    ev.RequestContext.RequestID,
				ResourcePath: resource,
				HTTPMethod:   ev.RequestContext.HTTP.Method,
				APIID:        ev.RequestContext.APIID,
				Identity: events.APIGatewayCustomAuthorizerRequestTypeRequestIdentity{
					SourceIP: ev.RequestContext.HTTP.SourceIP,
				},
			},
		}
	}
	return events.APIGatewayV2CustomAuthorizerV2Request{
		Version:               "2.0",
		Type:                  "REQUEST",
		RouteArn:              routeArn,
		IdentitySource:        identity,
		RouteKey:              ev.RouteKey,
		RawPath:               ev.RawPath,
		RawQueryString:        ev.RawQueryString,
		Cookies:               ev.Cookies,
		Headers:               ev.Headers,
		QueryStringParameters: ev.QueryStringParameters,
		RequestContext:        ev.RequestContext,
		PathParameters:        ev.PathParameters,
		StageVariables:        ev.StageVariables,
	}
}

// identityValues returns the values of the authorizer's identity sources, or
// false when one is missing (API Gateway then answers 401 without calling
// the authorizer).
func identityValues(ev events.APIGatewayV2HTTPRequest, auth RouteAuth) ([]string, bool) {
	var out []string
	for _, h := range auth.IdentityHeaders {
		v, ok := ev.Headers[h]
		if !ok || v == "" {
			return nil, false
		}
		out = append(out, v)
	}
	for _, q := range auth.IdentityQueryStrings {
		v, ok := ev.QueryStringParameters[q]
		if !ok || v == "" {
			return nil, false
		}
		out = append(out, v)
	}
	return out, true
}

// authorizerDecision interprets a Lambda authorizer's response: the simple
// format ({"isAuthorized": bool, "context": {...}}) when simple responses are
// on, else an IAM policy, which allows the request when a statement allows
// execute-api:Invoke on routeArn and none denies it.
func authorizerDecision(out []byte, auth RouteAuth, routeArn string) (allowed bool, authContext map[string]any, err error) {
	if auth.SimpleResponses && auth.PayloadVersion == "2.0" {
		var resp struct {
			IsAuthorized *bool          `json:"isAuthorized"`
			Context      map[string]any `json:"context"`
		}
		if err := json.Unmarshal(out, &resp); err != nil {
			return false, nil, fmt.Errorf("authorizer response is not a simple response: %w", err)
		}
		if resp.IsAuthorized == nil {
			return false, nil, fmt.Errorf("authorizer response has no isAuthorized")
		}
		return *resp.IsAuthorized, resp.Context, nil
	}
	var resp struct {
		PrincipalID    string `json:"principalId"`
		PolicyDocument struct {
			Statement []struct {
				Effect   string     `json:"Effect"`
				Action   stringList `json:"Action"`
				Resource stringList `json:"Resource"`
			} `json:"Statement"`
		} `json:"policyDocument"`
		Context map[string]any `json:"context"`
	}
	if err := json.Unmarshal(out, &resp); err != nil {
		return false, nil, fmt.Errorf("authorizer response is not an IAM policy response: %w", err)
	}
	for _, st := range resp.PolicyDocument.Statement {
		if !anyMatch(st.Action, "execute-api:Invoke") || !anyMatch(st.Resource, routeArn) {
			continue
		}
		switch {
		case strings.EqualFold(st.Effect, "Deny"):
			return false, resp.Context, nil
		case strings.EqualFold(st.Effect, "Allow"):
			allowed = true
		}
	}
	return allowed, resp.Context, nil
}

// stringList decodes an IAM policy field that may be a string or a list.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*s = many
	return nil
}

func anyMatch(patterns []string, value string) bool {
	for _, p := range patterns {
		if wildcardMatch(p, value) {
			return true
		}
	}
	return false
}

// wildcardMatch matches IAM-style patterns: * is any run of characters, ? is
// one character.
func wildcardMatch(pattern, value string) bool {
	p, v := 0, 0
	star, mark := -1, 0
	for v < len(value) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == value[v]):
			p++
			v++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, v
			p++
		case star >= 0:
			p = star + 1
			mark++
			v = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

// routeArn is the ARN API Gateway gives a Lambda authorizer for a request:
// arn:aws:execute-api:REGION:ACCOUNT:APIID/$default/METHOD/PATH.
func routeArn(region, account, apiID, method, path string) string {
	return fmt.Sprintf("arn:aws:execute-api:%s:%s:%s/$default/%s/%s",
		region, account, apiID, method, strings.TrimPrefix(path, "/"))
}

// unauthorizedError reports the error a Lambda authorizer returns to make API
// Gateway answer 401 rather than 500.
func unauthorizedError(err error) bool {
	return err != nil && err.Error() == "Unauthorized"
}
