//go:build integration

package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
)

// The integration suite talks to the API only through invoke, which checks
// every request and response against the OpenAPI document
// (internal/api/openapi.json): a response must be one the document lists for
// its operation and status, with the documented headers and body, and a
// request the document refuses must not be accepted. So a renamed field, a
// new status code or a missing header fails the test that met it.

var openAPIDoc = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI())
	if err != nil {
		return nil, err
	}
	return doc, doc.Validate(context.Background())
})

// invoke runs the function fn with the event, as API Gateway would, and
// checks the exchange against the document.
func (e *env) invoke(fn string, ev apigw.Request) (apigw.Response, error) {
	e.t.Helper()
	resp, err := e.api.Function(fn)(context.Background(), ev)
	if err != nil {
		return resp, err
	}
	if err := checkContract(ev, resp); err != nil {
		e.t.Errorf("%s: the exchange breaks the OpenAPI document: %v\nrequest body: %.300s\nresponse: %d %.500s",
			ev.RouteKey, err, ev.Body, resp.StatusCode, resp.Body)
	}
	return resp, nil
}

// checkContract checks one exchange against the document. A route the
// document does not have must have been answered 404 with the error body.
func checkContract(ev apigw.Request, resp apigw.Response) error {
	doc, err := openAPIDoc()
	if err != nil {
		return fmt.Errorf("load the document: %w", err)
	}
	method, path, _ := strings.Cut(ev.RouteKey, " ")
	var op *openapi3.Operation
	item := doc.Paths.Find(path)
	if item != nil {
		op = item.GetOperation(method)
	}
	if op == nil {
		if resp.StatusCode != 404 {
			return fmt.Errorf("route %q is not in the document, yet answered %d", ev.RouteKey, resp.StatusCode)
		}
		var v any
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			return fmt.Errorf("404 body is not JSON: %w", err)
		}
		return doc.Components.Schemas["Error"].Value.VisitJSON(v)
	}
	body := []byte(ev.Body)
	if ev.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(ev.Body); err != nil {
			return fmt.Errorf("request body: %w", err)
		}
	}
	target := path
	for name, v := range ev.PathParameters {
		target = strings.ReplaceAll(target, "{"+name+"}", url.PathEscape(v))
	}
	q := url.Values{}
	for k, v := range ev.QueryStringParameters {
		q.Set(k, v)
	}
	req, err := http.NewRequest(method, "http://127.0.0.1"+target+"?"+q.Encode(), bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("build the request: %w", err)
	}
	for k, v := range ev.Headers {
		req.Header.Set(k, v)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}
	in := &openapi3filter.RequestValidationInput{
		Request: req, PathParams: ev.PathParameters, Options: opts,
		Route: &routers.Route{Spec: doc, Path: path, PathItem: item, Method: method, Operation: op},
	}
	reqErr := openapi3filter.ValidateRequest(context.Background(), in)
	header := http.Header{}
	for k, v := range resp.Headers {
		header.Set(k, v)
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: header,
		Body: io.NopCloser(strings.NewReader(resp.Body)), Options: opts,
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return fmt.Errorf("response: %w", err)
	}
	if reqErr != nil && resp.StatusCode < 400 {
		return fmt.Errorf("the document refuses the request (%w), yet the API answered %d", reqErr, resp.StatusCode)
	}
	return nil
}

// The contract check itself: it passes a real exchange and catches a renamed
// or missing field, an undocumented status, a missing header, and a request
// the document refuses that was accepted.
func TestContractCheckCatchesDrift(t *testing.T) {
	e := newEnv(t)
	ev := e.event(req{route: "POST /v1/keys", body: `{"name":"contract","environment":"test","scopes":["payments:read"]}`})
	resp, err := e.api.Function("create")(context.Background(), ev)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("create: %d %v %s", resp.StatusCode, err, resp.Body)
	}
	bad := ev
	bad.Body = `{"name":"contract","environment":"test","extra":1}`
	tests := []struct {
		name    string
		ev      apigw.Request
		resp    func(apigw.Response) apigw.Response
		wantErr string // "" = conforms
	}{
		{"the exchange as it was", ev, func(r apigw.Response) apigw.Response { return r }, ""},
		{"a renamed response field", ev, func(r apigw.Response) apigw.Response {
			r.Body = strings.Replace(r.Body, `"secret_hint"`, `"secretHint"`, 1)
			return r
		}, "secretHint"},
		{"a missing response field", ev, func(r apigw.Response) apigw.Response {
			r.Body = strings.Replace(r.Body, `"revision":`, `"_":`, 1)
			return r
		}, "revision"},
		{"a field of the wrong type", ev, func(r apigw.Response) apigw.Response {
			r.Body = strings.Replace(r.Body, `"secret_version":1`, `"secret_version":"1"`, 1)
			return r
		}, "secret_version"},
		{"an undocumented status", ev, func(r apigw.Response) apigw.Response { r.StatusCode = 200; return r }, "status is not supported"},
		{"a documented header of the wrong value", ev, func(r apigw.Response) apigw.Response {
			r.Headers = map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store", "Idempotent-Replayed": "yes"}
			return r
		}, "Idempotent-Replayed"},
		{"a refused request accepted", bad, func(r apigw.Response) apigw.Response { return r }, "the document refuses the request"},
		{"an unknown route answered 200", func() apigw.Request { x := ev; x.RouteKey = "GET /v1/nope"; return x }(),
			func(r apigw.Response) apigw.Response { return r }, "not in the document"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := resp
			r.Headers = maps.Clone(resp.Headers)
			err := checkContract(tt.ev, tt.resp(r))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one naming %q", err, tt.wantErr)
			}
		})
	}
}
