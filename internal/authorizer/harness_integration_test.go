//go:build integration

package authorizer_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/signature"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

const demoRoutes = "GET /demo/{proxy+}=payments:read;HEAD /demo/{proxy+}=payments:read;ANY /demo/{proxy+}=payments:write"

type env struct {
	t           *testing.T
	table       string
	svc         *keysvc.Service
	store       *store.Store
	secrets     secret.Backend
	ddb         *testenv.Faults
	sm          *testenv.Faults
	h           *authorizer.Handler
	logs        *testenv.LogBuffer
	clk         *testenv.Clock
	secretsSeen []string
}

func newEnv(t *testing.T, o authz.Options) *env {
	t.Helper()
	ctx := context.Background()
	table := testenv.UniqueName(t, "t")
	client := testenv.Dynamo(t)
	if err := store.CreateTable(ctx, client, table); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, table: table, ddb: testenv.NewFaults(), sm: testenv.NewFaults(), logs: &testenv.LogBuffer{}, clk: testenv.NewClock(time.Now().UTC().Truncate(time.Second))}
	log := app.Logger(e.logs, -4)
	e.store = store.New(testenv.FaultyDynamo{Client: client, F: e.ddb}, table)
	e.secrets = testenv.FaultySecretStore(t, e.sm, table, testenv.UniqueName(t, "s")+"/")
	e.svc = keysvc.New(e.store, e.secrets, log)
	e.svc.Now = e.clock
	routes, err := authorizer.ParseRoutes(demoRoutes)
	if err != nil {
		t.Fatal(err)
	}
	engine := authz.New(e.store, e.secrets, e.store, o)
	engine.Now = e.clock
	e.h = &authorizer.Handler{Engine: engine, Routes: routes, Environment: key.EnvTest, Log: log}
	t.Cleanup(func() {
		logs := e.logs.String()
		for _, s := range e.secretsSeen {
			if strings.Contains(logs, s) {
				t.Error("a secret appeared in the logs")
			}
		}
		if strings.Contains(strings.ToLower(logs), "v1=") {
			t.Error("a signature appeared in the logs")
		}
	})
	return e
}

func (e *env) clock() time.Time { return e.clk.Now() }

func (e *env) advance(d time.Duration) { e.clk.Advance(d) }

var actor = key.Actor{Subject: "user_1", MerchantID: "m_1", Role: "admin"}

// newKey creates a key with scopes payments:read and payments:write unless p says otherwise.
func (e *env) newKey(p key.NewParams) (id, secret string) {
	e.t.Helper()
	if p.Name == "" {
		p.Name = "checkout"
	}
	if p.Environment == "" {
		p.Environment = key.EnvTest
	}
	if p.Scopes == nil {
		p.Scopes = []string{"payments:read", "payments:write"}
	}
	c, err := e.svc.Create(context.Background(), actor, p, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.secretsSeen = append(e.secretsSeen, c.Secret)
	return c.Key.ID, c.Secret
}

// event is a sample event from events/authorize, as a generic JSON object.
type event map[string]any

func (e *env) event(name string) event {
	e.t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "events", "authorize", name))
	if err != nil {
		e.t.Fatal(err)
	}
	var ev event
	if err := json.Unmarshal(raw, &ev); err != nil {
		e.t.Fatal(err)
	}
	return ev
}

func (ev event) rest() bool { _, ok := ev["methodArn"]; return ok }

func (ev event) headers() map[string]any { return ev["headers"].(map[string]any) }

// setHeader replaces a header, whatever the case of its name, in headers
// and, for a REST event, in multiValueHeaders, as API Gateway would send it.
func (ev event) setHeader(name, value string) {
	h := ev.headers()
	for k := range h {
		if strings.EqualFold(k, name) {
			delete(h, k)
		}
	}
	mv, _ := ev["multiValueHeaders"].(map[string]any)
	for k := range mv {
		if strings.EqualFold(k, name) {
			delete(mv, k)
		}
	}
	if value != "" {
		h[name] = value
		if mv != nil {
			mv[name] = []any{value}
		}
	}
}

// addHeader adds one more value of a header, as a client repeating it would:
// a REST event lists it in multiValueHeaders (headers keeps the last), an
// HTTP API event joins it to the first with ",".
func (ev event) addHeader(name, value string) {
	if !ev.rest() {
		if prev := ev.header(name); prev != "" {
			value = prev + "," + value
		}
		ev.setHeader(strings.ToLower(name), value)
		return
	}
	ev.headers()[name] = value
	mv := ev["multiValueHeaders"].(map[string]any)
	vs, _ := mv[name].([]any)
	mv[name] = append(vs, value)
}

func (ev event) header(name string) string {
	for k, v := range ev.headers() {
		if strings.EqualFold(k, name) {
			return v.(string)
		}
	}
	return ""
}

func (ev event) bearer(secret string) event {
	if ev.rest() {
		ev.setHeader("X-API-Key", secret)
	} else {
		ev.setHeader("Authorization", "Bearer "+secret)
	}
	return ev
}

func (ev event) method() string {
	if ev.rest() {
		return ev["httpMethod"].(string)
	}
	return ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"].(string)
}

func (ev event) setMethod(m string) {
	if ev.rest() {
		ev["httpMethod"] = m
	} else {
		ev["requestContext"].(map[string]any)["http"].(map[string]any)["method"] = m
	}
}

func (ev event) path() string {
	if ev.rest() {
		return ev["path"].(string)
	}
	return ev["rawPath"].(string)
}

func (ev event) setPath(p string) {
	if ev.rest() {
		ev["path"] = p
	} else {
		ev["rawPath"] = p
	}
}

func (ev event) setSourceIP(ip string) {
	rc := ev["requestContext"].(map[string]any)
	if ev.rest() {
		rc["identity"].(map[string]any)["sourceIp"] = ip
	} else {
		rc["http"].(map[string]any)["sourceIp"] = ip
	}
}

func (ev event) canonicalQuery(t *testing.T) string {
	if ev.rest() {
		q := map[string][]string{}
		for k, vs := range ev["multiValueQueryStringParameters"].(map[string]any) {
			for _, v := range vs.([]any) {
				q[k] = append(q[k], v.(string))
			}
		}
		return signature.CanonicalQueryValues(q)
	}
	c, err := signature.CanonicalQueryRaw(ev["rawQueryString"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// sign signs ev the way a client would, with a fresh nonce at ts.
func (ev event) sign(t *testing.T, clientID, secret string, ts time.Time, body []byte) event {
	hash := signature.ContentSHA256(body)
	nonce := signature.NewNonce()
	tsRaw := strconvUnix(ts)
	sts := signature.StringToSign(ev.method(), ev.path(), ev.canonicalQuery(t), tsRaw, nonce, hash)
	ev.setHeader("X-Client-Id", clientID)
	ev.setHeader("X-Timestamp", tsRaw)
	ev.setHeader("X-Nonce", nonce)
	ev.setHeader("X-Content-SHA256", hash)
	ev.setHeader("X-Signature", "v1="+signature.Sign(secret, sts))
	return ev
}

// outcome is what API Gateway would do with the authorizer's answer.
type outcome struct {
	Status  int // 200 allow, 401, 403, 500
	Context map[string]any
	Code    key.Code // from the decision log line
	raw     any
}

func (e *env) authorize(ev event) outcome {
	e.t.Helper()
	return e.authorizeWith(e.h, ev)
}

// authorizeWith asks h, one of several authorizers sharing e's store.
func (e *env) authorizeWith(h *authorizer.Handler, ev event) outcome {
	e.t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		e.t.Fatal(err)
	}
	before := len(e.logs.String())
	resp, err := h.Handle(context.Background(), raw)
	o := outcome{raw: resp, Code: e.lastCode(before)}
	switch {
	case errors.Is(err, authorizer.ErrUnauthorized):
		if err.Error() != "Unauthorized" {
			e.t.Fatalf("401 error text %q", err.Error())
		}
		o.Status = 401
		return o
	case err != nil:
		o.Status = 500
		return o
	}
	out, _ := json.Marshal(resp)
	var m map[string]any
	json.Unmarshal(out, &m)
	if pd, ok := m["policyDocument"].(map[string]any); ok {
		st := pd["Statement"].([]any)[0].(map[string]any)
		o.Status = map[string]int{"Allow": 200, "Deny": 403}[st["Effect"].(string)]
		if m["principalId"] == "" {
			e.t.Fatal("policy without principalId")
		}
	} else if m["isAuthorized"] == true {
		o.Status = 200
	} else if m["isAuthorized"] == false {
		o.Status = 403
	} else {
		e.t.Fatalf("unknown response %s", out)
	}
	o.Context, _ = m["context"].(map[string]any)
	return o
}

// lastCode reads the code of the decision logged after offset.
func (e *env) lastCode(offset int) key.Code {
	lines := strings.Split(strings.TrimSpace(e.logs.String()[offset:]), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var m map[string]any
		if json.Unmarshal([]byte(lines[i]), &m) == nil && m["msg"] == "decision" {
			c, _ := m["code"].(string)
			return key.Code(c)
		}
	}
	return ""
}

func strconvUnix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
