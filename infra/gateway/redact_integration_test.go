//go:build integration

package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/testenv"
)

// A secret a caller puts into any path or query position of any route never
// comes back, in a response body or header, or in any log line: the
// gateway's, the functions', the authorizer's or the webhook worker's. The
// real wiring serves the template's routes against the local stack, with
// everything the process writes to stdout and stderr captured.
func TestSecretsInURLsAreNeverEchoedOrLogged(t *testing.T) {
	testenv.Dynamo(t) // fails, not skips, without the local stack
	t.Setenv("TEMPLATE", "../../template.yaml")
	t.Setenv("TABLE_NAME", testenv.UniqueName(t, "redact"))
	t.Setenv("SECRET_PREFIX", testenv.UniqueName(t, "redact")+"/")
	t.Setenv("WORKER_INTERVAL", "200ms")
	ctx := testenv.Context(t)

	stdout, stderr := captureStdio(t)
	hs, ready, cleanup, err := handlers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	routes, _, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gwLog := &syncBuffer{}
	gw, err := NewGateway(Config{Routes: routes, JWTSecret: testSecret, Logger: slog.New(slog.NewJSONHandler(gwLog, nil))})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetBackend(Backend{Handlers: hs, Authorizers: registeredAuthorizers(), Readiness: ready})

	tok, err := MintToken(testSecret, TokenOptions{Subject: "u_redact", Merchant: "m_redact", Role: "admin", Issuer: localIssuer, Audience: localAudience, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var responses bytes.Buffer // every response after the ones that hand out secrets
	call := func(method, target string, body string, record bool) (int, []byte) {
		t.Helper()
		req := httptest.NewRequest(method, target, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		gw.ServeHTTP(w, req)
		res := w.Result()
		b, _ := io.ReadAll(res.Body)
		if record {
			for k, vs := range res.Header {
				responses.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
			}
			responses.WriteString(method + " -> " + res.Status + " " + string(b) + "\n") // not the target: it holds the secret
		}
		return res.StatusCode, b
	}

	// A key, a webhook endpoint (delivering to a receiver on loopback) and
	// a delivery, so that real IDs can stand beside the secret.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(204) }))
	t.Cleanup(receiver.Close)
	status, body := call("POST", "/v1/keys", `{"name":"redaction","environment":"test","scopes":["payments:read"]}`, false)
	var created struct {
		Key    struct{ ID string } `json:"key"`
		Secret string              `json:"secret"`
	}
	if err := json.Unmarshal(body, &created); err != nil || status != 201 || created.Secret == "" {
		t.Fatalf("create key: %d %s", status, body)
	}
	status, body = call("POST", "/v1/webhooks", `{"url":"`+receiver.URL+`/hook"}`, false)
	var endpoint struct {
		Endpoint      struct{ ID string } `json:"endpoint"`
		SigningSecret string              `json:"signing_secret"`
	}
	if err := json.Unmarshal(body, &endpoint); err != nil || status != 201 || endpoint.SigningSecret == "" {
		t.Fatalf("create endpoint: %d %s", status, body)
	}
	status, body = call("POST", "/v1/webhooks/"+endpoint.Endpoint.ID+"/test", "", true)
	var delivery struct{ ID string }
	if err := json.Unmarshal(body, &delivery); err != nil || status != 202 {
		t.Fatalf("test delivery: %d %s", status, body)
	}
	ids := map[string]string{"id": created.Key.ID, "delivery_id": delivery.ID}
	webhookIDs := map[string]string{"id": endpoint.Endpoint.ID, "delivery_id": delivery.ID}

	secrets := []string{created.Secret, endpoint.SigningSecret, "paykeys_" + created.Secret}
	queryNames := []string{"environment", "status", "limit", "cursor", "from", "to", "x"}
	bodies := map[string]string{ // a valid body where one is needed, so the request reaches its path and query
		"POST /v1/keys": `{"name":"n","environment":"test"}`, "POST /v1/webhooks": `{"url":"` + receiver.URL + `/h"}`,
		"PATCH /v1/keys/{id}": `{"name":"n"}`, "PATCH /v1/webhooks/{id}": `{"description":"d"}`,
		"POST /v1/keys/{id}/verify": `{"secret":"x"}`, "POST /v1/verify": `{"secret":"x"}`,
	}
	// Deletions last, so the other routes find the key and endpoint and read
	// their query.
	sort.SliceStable(routes, func(i, j int) bool { return routes[i].Method != "DELETE" && routes[j].Method == "DELETE" })
	requests := 0
	for _, r := range routes {
		if r.Path == "$default" {
			continue
		}
		methods := []string{r.Method}
		if r.Method == "ANY" {
			methods = []string{"GET", "POST"}
		}
		real := ids
		if strings.HasPrefix(r.Path, "/v1/webhooks") {
			real = webhookIDs
		}
		params := pathParams(r.Path)
		for _, method := range methods {
			routeKey := r.Method + " " + r.Path
			for _, secret := range secrets {
				// The secret in each path position, and in every query
				// position with the path's IDs real.
				for _, p := range params {
					call(method, fillPath(r.Path, real, p, secret)+"?q=1", bodies[routeKey], true)
					requests++
				}
				for _, q := range queryNames {
					call(method, fillPath(r.Path, real, "", "")+"?"+q+"="+url.QueryEscape(secret), bodies[routeKey], true)
					requests++
				}
			}
		}
	}
	if requests < 100 {
		t.Fatalf("only %d requests made; the template's routes were not all covered", requests)
	}
	time.Sleep(500 * time.Millisecond) // the worker's sweep and the stream tail log in the background
	cleanup()
	out, errOut := stdout(), stderr()

	sources := map[string]string{
		"responses": responses.String(), "gateway log": gwLog.String(),
		"stdout (functions, authorizer, worker)": out, "stderr": errOut,
	}
	for name, text := range sources {
		for _, s := range secrets {
			for _, part := range []string{s, s[len(s)-30:], strings.TrimPrefix(s, "paykeys_")} {
				if strings.Contains(text, part) {
					i := strings.Index(text, part)
					t.Errorf("%s holds a secret near: %q", name, text[max(0, i-200):min(len(text), i+len(part)+50)])
				}
			}
		}
	}
	// The output was really there: each request was logged, and secrets in
	// paths were redacted rather than dropped.
	if n := strings.Count(gwLog.String(), `"msg":"request"`); n < requests {
		t.Errorf("gateway logged %d requests, want at least %d", n, requests)
	}
	if n := strings.Count(out, `"msg":"request"`); n < requests/2 {
		t.Errorf("functions logged %d requests, want at least %d", n, requests/2)
	}
	if !strings.Contains(out, `"msg":"decision"`) || !strings.Contains(out, key.Redacted) || !strings.Contains(gwLog.String(), key.Redacted) {
		t.Errorf("no redacted authorizer decision or access log line:\n%.2000s", out)
	}
	if !strings.Contains(responses.String(), "key not found") {
		t.Error("a secret as a key ID was not answered \"key not found\"")
	}
}

// pathParams lists a path template's parameters, greedy ones included.
func pathParams(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			out = append(out, strings.TrimSuffix(strings.Trim(seg, "{}"), "+"))
		}
	}
	return out
}

// fillPath puts secret into parameter target and real IDs into the others;
// a greedy parameter gets a path of two segments.
func fillPath(path string, real map[string]string, target, secret string) string {
	segs := strings.Split(path, "/")
	for i, seg := range segs {
		if !strings.HasPrefix(seg, "{") || !strings.HasSuffix(seg, "}") {
			continue
		}
		name := strings.TrimSuffix(strings.Trim(seg, "{}"), "+")
		v := real[name]
		if name == target {
			v = secret
		}
		if strings.HasSuffix(seg, "+}") {
			v = "payments/" + or(v, "charges")
		}
		segs[i] = or(v, "x")
	}
	return strings.Join(segs, "/")
}

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// captureStdio sends os.Stdout and os.Stderr to files until the test ends;
// the returned functions read what was written so far.
func captureStdio(t *testing.T) (stdout, stderr func() string) {
	t.Helper()
	read := func(f *os.File) func() string {
		return func() string {
			b, err := os.ReadFile(f.Name())
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
	}
	dir := t.TempDir()
	outF, err := os.Create(dir + "/stdout")
	if err != nil {
		t.Fatal(err)
	}
	errF, err := os.Create(dir + "/stderr")
	if err != nil {
		t.Fatal(err)
	}
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = outF, errF
	t.Cleanup(func() {
		os.Stdout, os.Stderr = oldOut, oldErr
		outF.Close()
		errF.Close()
	})
	return read(outF), read(errF)
}
