//go:build integration

package api_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

// env is one isolated stack: its own table in DynamoDB Local, its own secret
// prefix in moto, fault injectors around both, a clock and a log buffer.
type env struct {
	t       *testing.T
	api     *api.API
	svc     *keysvc.Service
	store   *store.Store
	secrets secret.Backend
	ddb     *testenv.Faults
	sm      *testenv.Faults
	logs    *testenv.LogBuffer
	clock   *testenv.Clock
	seen    sync.Map // every secret handed out, checked against the logs at the end
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	table := testenv.UniqueName(t, "t")
	ddbClient := testenv.Dynamo(t)
	if err := store.CreateTable(ctx, ddbClient, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	e := &env{t: t, ddb: testenv.NewFaults(), sm: testenv.NewFaults(), logs: &testenv.LogBuffer{},
		clock: testenv.NewClock(time.Now().UTC().Truncate(time.Second))}
	log := app.Logger(e.logs, -4) // debug: everything the code logs is searched for secrets
	e.store = store.New(testenv.FaultyDynamo{Client: ddbClient, F: e.ddb}, table)
	e.secrets = testenv.FaultySecretStore(t, e.sm, table, testenv.UniqueName(t, "s")+"/")
	e.svc = keysvc.New(e.store, e.secrets, log)
	e.svc.Now = e.clock.Now
	e.api = &api.API{Keys: e.svc, Audit: e.store, Log: log, Now: e.clock.Now, Scopes: harnessScopes}
	// POST /v1/verify decides as the authorizer does, without a cache.
	e.api.Verifier = authz.New(e.store, e.secrets, e.store, authz.Options{CacheTTL: -1})
	t.Cleanup(func() {
		logs := e.logs.String()
		e.seen.Range(func(k, _ any) bool {
			if strings.Contains(logs, k.(string)) {
				t.Errorf("a secret appeared in the logs")
			}
			return true
		})
	})
	return e
}

// functionOf says which Lambda function serves a route: the route table's
// answer, which a unit test checks against template.yaml.
var functionOf = func() map[string]string {
	m := map[string]string{}
	for _, r := range api.Routes() {
		m[r.Key] = r.Function
	}
	return m
}()

// golden are the sample events in events/, one per route.
var golden = map[string]string{
	"POST /v1/keys": "create/create.json", "GET /v1/keys": "keys/list.json", "GET /v1/keys/{id}": "keys/get.json",
	"PATCH /v1/keys/{id}": "keys/patch.json", "DELETE /v1/keys/{id}": "keys/delete.json", "GET /v1/audit": "keys/audit.json",
	"POST /v1/keys/{id}/reset": "reset/reset.json", "POST /v1/keys/{id}/verify": "verify/verify-key.json",
}

// harnessScopes are the scopes the harness's deployment declares.
var harnessScopes, _ = key.NewDeclaredScopes([]string{"payments:read", "payments:write", "refunds:create", "a:b"})

// req is one request to make; zero fields keep the golden event's values.
type req struct {
	route    string
	id       string
	body     string // "-" for none
	merchant string
	role     string
	sub      string
	query    map[string]string
	headers  map[string]string
}

func (e *env) event(r req) apigw.Request {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", golden[r.route]))
	if err != nil {
		e.t.Fatalf("golden event for %s: %v", r.route, err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		e.t.Fatalf("golden event for %s: %v", r.route, err)
	}
	ev.RequestContext.RequestID = testenv.UniqueName(e.t, "req")
	delete(ev.Headers, "idempotency-key")
	claims := ev.RequestContext.Authorizer.JWT.Claims
	claims["merchant_id"] = or(r.merchant, "m_alpha")
	claims["role"] = or(r.role, "admin")
	claims["sub"] = or(r.sub, "user_1")
	for k, v := range map[string]string{"merchant_id": r.merchant, "role": r.role, "sub": r.sub} {
		if v == "<none>" {
			delete(claims, k)
		}
	}
	if r.id != "" {
		ev.PathParameters = map[string]string{"id": r.id}
	}
	if r.body == "-" {
		ev.Body = ""
	} else if r.body != "" {
		ev.Body = r.body
	}
	if r.query != nil {
		ev.QueryStringParameters = r.query
	}
	for k, v := range r.headers {
		ev.Headers[k] = v
	}
	return ev
}

// do sends r to the function that serves its route.
func (e *env) do(r req) response {
	e.t.Helper()
	ev := e.event(r)
	resp, err := e.invoke(functionOf[r.route], ev)
	if err != nil {
		e.t.Fatalf("%s: handler returned an error: %v", r.route, err)
	}
	out := response{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
	var m map[string]any
	if json.Unmarshal([]byte(resp.Body), &m) == nil {
		if s, ok := m["secret"].(string); ok {
			e.seen.Store(s, true)
		}
	}
	return out
}

type response struct {
	Status  int
	Headers map[string]string
	Body    string
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not JSON: %q", r.Body)
	}
	return m
}

// errCode returns the error body's code, failing if the body is not one.
func (r response) errCode(t *testing.T) string {
	t.Helper()
	var b apigw.ErrorBody
	if err := json.Unmarshal([]byte(r.Body), &b); err != nil || b.Error.Code == "" || b.Error.RequestID == "" {
		t.Fatalf("not an error body: %q", r.Body)
	}
	return b.Error.Code
}

// created is a key made through the API.
type created struct {
	ID     string
	Secret string
	Key    map[string]any
}

func (e *env) create(body string, opts ...func(*req)) created {
	e.t.Helper()
	r := req{route: "POST /v1/keys", body: body}
	for _, o := range opts {
		o(&r)
	}
	resp := e.do(r)
	if resp.Status != 201 {
		e.t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	m := resp.json(e.t)
	k := m["key"].(map[string]any)
	return created{ID: k["id"].(string), Secret: m["secret"].(string), Key: k}
}

func (e *env) verify(id, secret string) (valid bool, status string) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"secret": secret})
	resp := e.do(req{route: "POST /v1/keys/{id}/verify", id: id, body: string(b)})
	if resp.Status != 200 {
		e.t.Fatalf("verify: %d %s", resp.Status, resp.Body)
	}
	m := resp.json(e.t)
	return m["valid"].(bool), m["status"].(string)
}

func merchant(m string) func(*req) { return func(r *req) { r.merchant = m } }

// listSecrets lists the names of this env's secrets that are not deleted.
func listSecrets(t *testing.T, e *env) ([]string, error) {
	var names []string
	cursor := ""
	for {
		page, next, err := e.secrets.List(context.Background(), cursor, 100)
		if err != nil {
			return nil, err
		}
		for _, n := range page {
			if !slices.Contains(names, e.secrets.Name(n)) {
				names = append(names, e.secrets.Name(n))
			}
		}
		if next == "" {
			return names, nil
		}
		cursor = next
	}
}
