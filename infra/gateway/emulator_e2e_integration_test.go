//go:build integration

package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/signature"
	"github.com/paykeys/paykeys/internal/testenv"
	"github.com/paykeys/paykeys/internal/webhook"
)

// e2eFunctions are the functions of the template, each built as make
// functions-host builds it.
var e2eFunctions = []string{"authorize", "create", "demo", "keys", "reset", "rotate", "verify", "webhook", "webhooks", "portal", "claims"}

// emulatorBinaries returns the emulator and the folder of bootstraps: RIE
// and LAMBDA_BIN when make sets them, else the emulator of make tools' venv
// and bootstraps built here with sam build's flags.
func emulatorBinaries(t *testing.T) (rie, binDir string) {
	t.Helper()
	rie = os.Getenv("RIE")
	if rie == "" {
		arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
		matches, _ := filepath.Glob("../.cache/venv/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-" + arch)
		if len(matches) == 0 {
			t.Fatal("no aws-lambda-rie in infra/.cache/venv: run make tools (it comes with the SAM CLI)")
		}
		rie = matches[0]
	}
	binDir = os.Getenv("LAMBDA_BIN")
	if binDir != "" {
		return rie, binDir
	}
	binDir = t.TempDir()
	for _, fn := range e2eFunctions {
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w",
			"-o", filepath.Join(binDir, fn, "bootstrap"), "../../functions/"+fn)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", fn, err, out)
		}
	}
	return rie, binDir
}

// hookReceiver is a webhook endpoint on 127.0.0.1 that keeps what it gets.
type hookReceiver struct {
	mu   sync.Mutex
	got  []receivedHook
	srv  *httptest.Server
	wake chan struct{}
}

type receivedHook struct {
	Type      string
	ID        string
	Timestamp string
	Signature string
	Body      []byte
}

func newHookReceiver(t *testing.T) *hookReceiver {
	h := &hookReceiver{wake: make(chan struct{}, 1)}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			Type string `json:"type"`
		}
		_ = json.Unmarshal(body, &ev)
		h.mu.Lock()
		h.got = append(h.got, receivedHook{ev.Type, r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body})
		h.mu.Unlock()
		select {
		case h.wake <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// wait returns the first delivery for which match holds, within d.
func (h *hookReceiver) wait(t *testing.T, d time.Duration, what string, match func(receivedHook) bool) receivedHook {
	t.Helper()
	deadline := time.After(d)
	for {
		h.mu.Lock()
		for _, g := range h.got {
			if match(g) {
				h.mu.Unlock()
				return g
			}
		}
		h.mu.Unlock()
		select {
		case <-h.wake:
		case <-time.After(100 * time.Millisecond):
		case <-deadline:
			t.Fatalf("no %s delivered within %s", what, d)
		}
	}
}

type e2eClient struct {
	base  string
	token string
}

func (c e2eClient) do(t *testing.T, method, path string, body any, headers map[string]string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if raw, ok := body.([]byte); ok {
		rd = bytes.NewReader(raw) // sent as it is, as a signed body must be
	} else if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	out, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, out
}

func decode[T any](t *testing.T, b []byte) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return v
}

// The whole service through the gateway in emulator mode: each function's
// real bootstrap under the Runtime Interface Emulator, two per function.
// Every management route, the authorizer in front of /demo (bearer and
// signed), a webhook delivery to a receiver on 127.0.0.1 and a run of the
// rotate schedule.
func TestEmulatorModeEndToEnd(t *testing.T) {
	testenv.Dynamo(t) // fails, not skips, without the local stack
	rie, binDir := emulatorBinaries(t)

	env := map[string]string{
		"TEMPLATE":              "../../template.yaml",
		"TABLE_NAME":            testenv.UniqueName(t, "e2e"),
		"SECRET_PREFIX":         testenv.UniqueName(t, "e2e") + "/",
		"ENVIRONMENT":           "test",
		"LOG_LEVEL":             "info", // the functions' decision lines, which checkOperating reads
		"WEBHOOK_ALLOW_PRIVATE": "true",
		"WORKER_INTERVAL":       "1s",
		"ROTATE_INTERVAL":       "2s",
	}
	getenv := func(name string) string {
		if v, ok := env[name]; ok {
			return v
		}
		return os.Getenv(name)
	}
	var logs, fnOut syncBuffer // the gateway's log; the functions' output as written
	logger := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	addr := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	registry, authorizers := emulatorRegistry(rie, binDir, 2, getenv, logger, &fnOut)
	go func() {
		served <- serve(ctx, serveOptions{
			template: "../../template.yaml", secret: testSecret, region: defaultRegion,
			registry: registry, authorizers: authorizers,
			onListen: func(a string) { addr <- a },
		}, logger)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-served; err != nil {
			t.Errorf("serve: %v", err)
		}
	}
	t.Cleanup(stop)
	base := "http://" + <-addr

	// /healthz is 200 once every emulator is up.
	deadline := time.Now().Add(time.Minute)
	for {
		select {
		case err := <-served:
			stopped = true
			t.Fatalf("the gateway stopped: %v; log:\n%s", err, logs.String())
		default:
		}
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy within a minute; log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	tok, err := MintToken(testSecret, TokenOptions{Subject: "user_e2e", Merchant: "m_e2e", Role: "admin",
		Issuer: localIssuer, Audience: localAudience, TTL: time.Hour, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	api := e2eClient{base: base, token: tok}
	anon := e2eClient{base: base}
	hooks := newHookReceiver(t)

	type keyBody struct {
		Key struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"key"`
		Secret string `json:"secret"`
	}

	// A webhook endpoint first, so it hears of the keys below.
	code, _, body := api.do(t, "POST", "/v1/webhooks", map[string]any{"url": hooks.srv.URL + "/hooks", "event_types": []string{"key.*"}}, nil)
	if code != http.StatusCreated {
		t.Fatalf("create webhook: %d %s", code, body)
	}
	hook := decode[struct {
		Endpoint struct {
			ID string `json:"id"`
		} `json:"endpoint"`
		SigningSecret string `json:"signing_secret"`
	}](t, body)

	code, hdr, body := api.do(t, "POST", "/v1/keys", map[string]any{"name": "e2e", "environment": "test", "scopes": []string{"payments:read", "payments:write"}},
		map[string]string{"Idempotency-Key": "e2e-create-1"})
	if code != http.StatusCreated {
		t.Fatalf("create key: %d %s", code, body)
	}
	k := decode[keyBody](t, body)
	if k.Key.ID == "" || k.Secret == "" || hdr.Get("Idempotent-Replayed") != "" {
		t.Fatalf("create key answered %s", body)
	}
	id := k.Key.ID
	secrets := []string{k.Secret, hook.SigningSecret} // every secret the session sees

	// The key.created event reaches the receiver, signed with the
	// endpoint's secret (through the stream tail or the sweep, both
	// invocations of the webhook function's emulators).
	created := hooks.wait(t, 20*time.Second, "key.created", func(h receivedHook) bool {
		return h.Type == "key.created" && bytes.Contains(h.Body, []byte(id))
	})
	secret, err := webhook.DecodeSecret(hook.SigningSecret)
	if err != nil {
		t.Fatal(err)
	}
	var ts int64
	fmt.Sscan(created.Timestamp, &ts)
	want := webhook.Sign(secret, created.ID, time.Unix(ts, 0), created.Body)
	signed := false
	for _, s := range strings.Fields(created.Signature) {
		signed = signed || hmac.Equal([]byte(s), []byte(want))
	}
	if !signed {
		t.Errorf("key.created signature %q does not verify with the endpoint's secret", created.Signature)
	}

	// The authorizer in front of /demo, bearer and signed.
	demo := func(method, path string, headers map[string]string, body []byte) (int, []byte) {
		var b any
		if body != nil {
			b = body
		}
		code, _, out := e2eClient{base: base}.do(t, method, path, b, headers)
		return code, out
	}
	signedAt := func(path, secret string, nonce string) *http.Request {
		body := []byte(`{"amount":1000}`)
		req, _ := http.NewRequest("POST", base+path+"?expand=customer", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if err := signature.SignRequest(req, id, secret, body, time.Now()); err != nil {
			t.Fatal(err)
		}
		if nonce != "" {
			req.Header.Set("X-Nonce", nonce)
		}
		return req
	}
	signedReq := func(secret string, nonce string) *http.Request { return signedAt("/demo/charges", secret, nonce) }
	sendSigned := func(req *http.Request) (int, []byte) {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, b
	}
	authTests := []struct {
		name     string
		send     func() (int, []byte)
		wantCode int
		wantBody string
	}{
		{"bearer allowed", func() (int, []byte) {
			return demo("POST", "/demo/charges", map[string]string{"Authorization": "Bearer " + k.Secret, "Content-Type": "application/json"}, []byte(`{"amount":1}`))
		}, 200, `"auth_mode":"bearer"`},
		{"bearer read scope on GET", func() (int, []byte) {
			return demo("GET", "/demo/charges/1", map[string]string{"X-API-Key": k.Secret}, nil)
		}, 200, `"key_id":"` + id + `"`},
		{"unknown secret", func() (int, []byte) {
			return demo("GET", "/demo/charges", map[string]string{"Authorization": "Bearer " + k.Secret[:len(k.Secret)-4] + "AAAA"}, nil)
		}, 401, `Unauthorized`},
		{"no credential", func() (int, []byte) { return demo("GET", "/demo/charges", nil, nil) }, 401, `Unauthorized`},
		{"signed allowed", func() (int, []byte) { return sendSigned(signedReq(k.Secret, "")) }, 200, `"auth_mode":"hmac"`},
		// The gateway passes the path decoded, as an HTTP API does; the
		// client signed it percent-encoded, as it sent it.
		{"signed over a percent-encoded path", func() (int, []byte) {
			return sendSigned(signedAt("/demo/caf%C3%A9%20au%20lait", k.Secret, ""))
		}, 200, `"auth_mode":"hmac"`},
		{"signed with the wrong secret", func() (int, []byte) {
			return sendSigned(signedReq(strings.ToUpper(k.Secret), ""))
		}, 401, `Unauthorized`},
	}
	for _, tt := range authTests {
		t.Run("authorizer/"+tt.name, func(t *testing.T) {
			code, body := tt.send()
			if code != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("%d %s, want %d with %s", code, body, tt.wantCode, tt.wantBody)
			}
		})
	}
	// A signed request sent twice: the nonce is used.
	replay := signedReq(k.Secret, "")
	first := replay.Clone(context.Background())
	first.Body = io.NopCloser(strings.NewReader(`{"amount":1000}`))
	if code, body := sendSigned(first); code != 200 {
		t.Errorf("signed: %d %s", code, body)
	}
	replay.Body = io.NopCloser(strings.NewReader(`{"amount":1000}`))
	if code, body := sendSigned(replay); code != 401 {
		t.Errorf("signed replay: %d %s, want 401", code, body)
	}
	// Concurrent bearer requests spread over the authorizer's two
	// emulators and all decide right.
	var wg sync.WaitGroup
	errs := make(chan string, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			secret, want := k.Secret, 200
			if i%4 == 0 {
				secret, want = "paykeys_sk_test_nope", 401
			}
			if code, body := demo("GET", "/demo/x", map[string]string{"Authorization": "Bearer " + secret}, nil); code != want {
				errs <- fmt.Sprintf("request %d: %d %s, want %d", i, code, body, want)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}

	// Every management route.
	code, hdr, body = api.do(t, "POST", "/v1/keys", map[string]any{"name": "e2e", "environment": "test", "scopes": []string{"payments:read", "payments:write"}},
		map[string]string{"Idempotency-Key": "e2e-create-1"})
	if code != http.StatusCreated || hdr.Get("Idempotent-Replayed") != "true" || decode[keyBody](t, body).Key.ID != id {
		t.Errorf("idempotent replay: %d %v %s", code, hdr, body)
	}
	expiresAt := time.Now().Add(3 * time.Second).UTC().Format(time.RFC3339Nano)
	code, _, body = api.do(t, "POST", "/v1/keys", map[string]any{"name": "expiring", "environment": "test", "expires_at": expiresAt}, nil)
	if code != http.StatusCreated {
		t.Fatalf("create expiring key: %d %s", code, body)
	}
	expiring := decode[keyBody](t, body).Key.ID

	var deliveryID string
	routes := []struct {
		name     string
		client   e2eClient
		method   string
		path     func() string
		body     any
		wantCode int
		wantBody string
		after    func(body []byte)
	}{
		{"list keys", api, "GET", func() string { return "/v1/keys?environment=test&limit=10" }, nil, 200, id, nil},
		{"get key", api, "GET", func() string { return "/v1/keys/" + id }, nil, 200, `"status":"active"`, nil},
		{"patch key", api, "PATCH", func() string { return "/v1/keys/" + id }, map[string]any{"name": "renamed"}, 200, `"name":"renamed"`, nil},
		{"verify key", api, "POST", func() string { return "/v1/keys/" + id + "/verify" }, map[string]any{"secret": k.Secret}, 200, `"valid":true`, nil},
		{"service verify, no token", anon, "POST", func() string { return "/v1/verify" }, map[string]any{"secret": k.Secret, "scope": "payments:read"}, 200, `"valid":true`, nil},
		{"usage", api, "GET", func() string { return "/v1/keys/" + id + "/usage" }, nil, 200, `"data":`, nil},
		{"audit", api, "GET", func() string { return "/v1/audit?limit=50" }, nil, 200, `"action":"key.create"`, nil},
		{"no token", anon, "GET", func() string { return "/v1/keys" }, nil, 401, `Unauthorized`, nil},
		{"unknown route", api, "GET", func() string { return "/v1/nope" }, nil, 404, `"code":"not_found"`, nil},
		{"list webhooks", api, "GET", func() string { return "/v1/webhooks" }, nil, 200, hook.Endpoint.ID, nil},
		{"get webhook", api, "GET", func() string { return "/v1/webhooks/" + hook.Endpoint.ID }, nil, 200, hook.Endpoint.ID, nil},
		{"patch webhook", api, "PATCH", func() string { return "/v1/webhooks/" + hook.Endpoint.ID }, map[string]any{"description": "e2e hooks"}, 200, `"description":"e2e hooks"`, nil},
		{"test webhook", api, "POST", func() string { return "/v1/webhooks/" + hook.Endpoint.ID + "/test" }, nil, 202, `"id"`, func(b []byte) {
			deliveryID = decode[struct {
				ID string `json:"id"`
			}](t, b).ID
		}},
		{"deliveries", api, "GET", func() string { return "/v1/webhooks/" + hook.Endpoint.ID + "/deliveries?limit=10" }, nil, 200, `"data":`, nil},
		{"retry delivery", api, "POST", func() string {
			return "/v1/webhooks/" + hook.Endpoint.ID + "/deliveries/" + deliveryID + "/retry"
		}, nil, 202, `"id"`, nil},
		{"rotate webhook secret", api, "POST", func() string { return "/v1/webhooks/" + hook.Endpoint.ID + "/rotate-secret" }, map[string]any{"overlap_seconds": 60}, 200, `"signing_secret":"whsec_`, func(b []byte) {
			secrets = append(secrets, decode[struct {
				SigningSecret string `json:"signing_secret"`
			}](t, b).SigningSecret)
		}},
		{"reset key", api, "POST", func() string { return "/v1/keys/" + id + "/reset" }, map[string]any{"grace_period_seconds": 0}, 200, `"secret_version":2`, func(b []byte) {
			k.Secret = decode[keyBody](t, b).Secret
			secrets = append(secrets, k.Secret)
		}},
		{"revoke key", api, "DELETE", func() string { return "/v1/keys/" + id }, nil, 204, ``, nil},
		{"revoked key", api, "GET", func() string { return "/v1/keys/" + id }, nil, 200, `"status":"revoked"`, nil},
		{"portal page, no token", anon, "GET", func() string { return "/portal" }, nil, 200, `<script src="/portal/app.js" defer></script>`, nil},
		{"portal sign-in settings", anon, "GET", func() string { return "/portal/config.json" }, nil, 200, `"dev_signin":{"path":"/dev/portal-token"`, nil},
	}
	for _, tt := range routes {
		t.Run("route/"+tt.name, func(t *testing.T) {
			code, _, body := tt.client.do(t, tt.method, tt.path(), tt.body, nil)
			if code != tt.wantCode || !strings.Contains(string(body), tt.wantBody) {
				t.Fatalf("%s %s: %d %s, want %d with %s", tt.method, tt.path(), code, body, tt.wantCode, tt.wantBody)
			}
			if tt.after != nil {
				tt.after(body)
			}
		})
	}
	hooks.wait(t, 20*time.Second, "webhook.test", func(h receivedHook) bool { return h.Type == "webhook.test" })

	// The revoked key is refused at the authorizer (the change feed reaches
	// every warm authorizer emulator within 2 s).
	deadline = time.Now().Add(5 * time.Second)
	for {
		code, body := demo("GET", "/demo/x", map[string]string{"Authorization": "Bearer " + k.Secret}, nil)
		if code == 403 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("revoked key still answered %d %s", code, body)
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A run of the rotate schedule (every 2 s here) records the expiry:
	// in the audit log as system:rotate, and as a key.expired webhook.
	hooks.wait(t, 30*time.Second, "key.expired", func(h receivedHook) bool {
		return h.Type == "key.expired" && bytes.Contains(h.Body, []byte(expiring))
	})
	code, _, body = api.do(t, "GET", "/v1/audit?limit=100", nil, nil)
	type auditPage struct {
		Data []struct {
			Actor      string `json:"actor"`
			Action     string `json:"action"`
			ResourceID string `json:"resource_id"`
		} `json:"data"`
	}
	found := false
	for _, r := range decode[auditPage](t, body).Data {
		found = found || r.Action == "key.expire" && r.Actor == "system:rotate" && r.ResourceID == expiring
	}
	if code != 200 || !found {
		t.Errorf("no key.expire by system:rotate for %s in the audit log: %d %s", expiring, code, body)
	}
	code, _, body = api.do(t, "DELETE", "/v1/webhooks/"+hook.Endpoint.ID, nil, nil)
	if code != http.StatusNoContent {
		t.Errorf("delete webhook: %d %s", code, body)
	}

	// Decisions just before shutdown leave usage counts in the authorizers'
	// memory, for them to write at SIGTERM.
	for range 4 {
		if code, body := demo("GET", "/demo/x", map[string]string{"Authorization": "Bearer " + k.Secret}, nil); code != 403 {
			t.Errorf("revoked key: %d %s", code, body)
		}
	}

	// Shutdown stops every emulator and bootstrap.
	pids := emulatorPIDs(t, binDir)
	if len(pids) < len(e2eFunctions)*2 {
		t.Errorf("%d emulator and bootstrap processes running, want at least %d", len(pids), len(e2eFunctions)*2)
	}
	late := lateness(stop)
	t.Logf("this machine ran the gateway's timers up to %v late during the shutdown (load average %s)", late, loadAverage())
	time.Sleep(200 * time.Millisecond)
	if left := emulatorPIDs(t, binDir); len(left) > 0 {
		t.Errorf("processes left after shutdown: %v", left)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the gateway logged errors:\n%s", logs.String())
	}
	// What on-call gets from the session: its metrics, its logs, no secret.
	checkOperating(t, fnOut.String()+logs.String(), secrets, []string{id, expiring, "m_e2e", hook.Endpoint.ID}, late)
}

// emulatorPIDs lists the processes whose command line names a bootstrap
// under binDir: the emulators and the bootstraps they run.
func emulatorPIDs(t *testing.T, binDir string) []string {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		if bytes.Contains(cmdline, []byte(binDir+"/")) {
			out = append(out, e.Name())
		}
	}
	return out
}
