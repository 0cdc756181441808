package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/testenv"
	"github.com/paykeys/paykeys/internal/testenv/mem"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// The unit tests in this package run every route's handler, through the
// function that serves it, on the in-memory stores of package mem: no
// DynamoDB, no Secrets Manager. The integration tests run the same routes
// on the local stack.

// fake is the management API on in-memory stores, with a clock and a log
// buffer. Every secret a response hands out is remembered, and at the end
// of the test none of them may be in the logs.
type fake struct {
	t      *testing.T
	api    *api.API
	st     *mem.Store
	sec    *mem.Secrets
	clock  *testenv.Clock
	logs   *testenv.LogBuffer
	fns    map[string]apigw.Handler // by route key
	mu     sync.Mutex
	bodies []string // every response body, in order
}

// fakeScopes are the scopes the fake's deployment declares.
var fakeScopes, _ = key.NewDeclaredScopes([]string{"payments:read", "payments:write"})

func newFake(t *testing.T) *fake {
	t.Helper()
	f := &fake{t: t, st: mem.NewStore(), sec: mem.NewSecrets(), logs: &testenv.LogBuffer{},
		clock: testenv.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)), fns: map[string]apigw.Handler{}}
	f.st.Now = f.clock.Now
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	keys := keysvc.New(f.st, f.sec, log)
	keys.Now = f.clock.Now
	hooks := webhooksvc.New(f.st, f.sec, mem.AnyURL{}, log)
	hooks.Now = f.clock.Now
	verifier := authz.New(f.st, f.sec, nil, authz.Options{CacheTTL: -1})
	verifier.Now = f.clock.Now
	f.api = &api.API{Keys: keys, Webhooks: hooks, Audit: f.st, Counters: f.st, Verifier: verifier,
		Scopes: fakeScopes, Log: log, Now: f.clock.Now}
	byFunction := map[string]apigw.Handler{}
	for _, r := range api.Routes() {
		if byFunction[r.Function] == nil {
			byFunction[r.Function] = f.api.Function(r.Function)
		}
		f.fns[r.Key] = byFunction[r.Function]
	}
	t.Cleanup(func() {
		logs := f.logs.String()
		for _, s := range f.secrets() {
			if strings.Contains(logs, s) {
				t.Errorf("a secret is in the logs")
			}
		}
	})
	return f
}

// rq is one request. Zero claims are those of merchant m_alpha's admin
// user_1; merchant "-" sends no token at all.
type rq struct {
	route    string // the route key, "METHOD /path"
	id       string // {id}
	sub      string // the second path parameter ({pk_id}, {delivery_id})
	body     string
	query    map[string]string
	headers  map[string]string
	merchant string
	role     string
	subject  string
}

// answer is a response.
type answer struct {
	status    int
	headers   map[string]string
	body      string
	requestID string // the request's ID
}

var pathParam = regexp.MustCompile(`\{([a-z_]+)\}`)

// send serves r through the function the route table names for it (an
// undeclared route goes to the keys function, which answers 404). Every
// error response must be the one error body, naming the request.
func (f *fake) send(r rq) answer {
	f.t.Helper()
	ev := apigw.Request{RouteKey: r.route, Body: r.body, QueryStringParameters: r.query,
		Headers: map[string]string{"content-type": "application/json"}, PathParameters: map[string]string{}}
	for k, v := range r.headers {
		ev.Headers[k] = v
	}
	for i, m := range pathParam.FindAllStringSubmatch(r.route, -1) {
		ev.PathParameters[m[1]] = []string{r.id, r.sub}[min(i, 1)]
	}
	ev.RequestContext.RequestID = key.NewID("req_")
	ev.RequestContext.HTTP.SourceIP = "198.51.100.23"
	if r.merchant != "-" {
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{
			JWT: &events.APIGatewayV2HTTPRequestContextAuthorizerJWTDescription{Claims: map[string]string{
				"sub": or(r.subject, "user_1"), "merchant_id": or(r.merchant, "m_alpha"), "role": or(r.role, "admin"),
			}},
		}
	}
	h := f.fns[r.route]
	if h == nil {
		h = f.fns["GET /v1/keys"]
	}
	resp, err := h(context.Background(), ev)
	if err != nil {
		f.t.Fatalf("%s: handler error %v; every outcome must be a response", r.route, err)
	}
	a := answer{status: resp.StatusCode, headers: resp.Headers, body: resp.Body, requestID: ev.RequestContext.RequestID}
	f.mu.Lock()
	f.bodies = append(f.bodies, resp.Body)
	f.mu.Unlock()
	if a.status >= 400 {
		code, _ := a.error(f.t)
		if code == "" {
			f.t.Errorf("%s: %d with body %s", r.route, a.status, a.body)
		}
	}
	return a
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// json decodes the body as an object.
func (a answer) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(a.body), &m); err != nil {
		t.Fatalf("body %q: %v", a.body, err)
	}
	return m
}

// error returns an error response's code and message, checking that the
// body is exactly the one error shape and names the request.
func (a answer) error(t *testing.T) (code, msg string) {
	t.Helper()
	var b apigw.ErrorBody
	dec := json.NewDecoder(strings.NewReader(a.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Errorf("error body %q: %v", a.body, err)
		return "", ""
	}
	if b.Error.RequestID != a.requestID {
		t.Errorf("error body names request %q, want %q", b.Error.RequestID, a.requestID)
	}
	return b.Error.Code, b.Error.Message
}

// must fails the test unless the answer has status want.
func (a answer) must(t *testing.T, want int) answer {
	t.Helper()
	if a.status != want {
		t.Fatalf("status %d, want %d: %s", a.status, want, a.body)
	}
	return a
}

// issued is what a create, reset or rotate answer holds: the object's ID
// and the secret shown this once.
type issued struct{ id, secret string }

// createKey creates a key for merchant ("" for m_alpha) and returns it.
func (f *fake) createKey(merchant, body string) issued {
	f.t.Helper()
	if body == "" {
		body = `{"name":"checkout","environment":"test"}`
	}
	m := f.send(rq{route: "POST /v1/keys", body: body, merchant: merchant}).must(f.t, 201).json(f.t)
	return issued{m["key"].(map[string]any)["id"].(string), m["secret"].(string)}
}

// createHook registers a webhook endpoint for merchant and returns it.
func (f *fake) createHook(merchant string) issued {
	f.t.Helper()
	m := f.send(rq{route: "POST /v1/webhooks", body: `{"url":"http://127.0.0.1:9/hook"}`, merchant: merchant}).
		must(f.t, 201).json(f.t)
	return issued{m["endpoint"].(map[string]any)["id"].(string), m["signing_secret"].(string)}
}

// secrets returns every secret a response handed out.
func (f *fake) secrets() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, b := range f.bodies {
		var m map[string]any
		if json.Unmarshal([]byte(b), &m) != nil {
			continue
		}
		for _, name := range []string{"secret", "signing_secret"} {
			if s, ok := m[name].(string); ok && s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}
