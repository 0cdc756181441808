package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/golang-jwt/jwt/v5"
)

func envFrom(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestTokenSubcommand(t *testing.T) {
	now := func() time.Time { return time.Now() }
	tests := []struct {
		name      string
		args      []string
		env       map[string]string
		wantCode  int
		secret    string
		wantClaim map[string]any // nil value = claim absent
		wantTTL   time.Duration
		// wantStderr is a part of the message on failure.
		wantStderr string
	}{
		{
			name: "defaults", secret: "local-dev-secret", wantTTL: time.Hour,
			wantClaim: map[string]any{"sub": "user_dev", "merchant_id": "m_demo", "role": "admin", "iss": "paykeys-local", "aud": "paykeys", "scope": nil},
		},
		{
			name: "flags and DEV_JWT_SECRET", args: []string{"-merchant", "m_123", "-role", "viewer", "-sub", "user_9", "-ttl", "5m", "-scope", "a b"},
			env: map[string]string{"DEV_JWT_SECRET": "s3cret"}, secret: "s3cret", wantTTL: 5 * time.Minute,
			wantClaim: map[string]any{"sub": "user_9", "merchant_id": "m_123", "role": "viewer", "scope": "a b"},
		},
		{
			name: "empty merchant leaves the claim out", args: []string{"-merchant", ""}, secret: "local-dev-secret", wantTTL: time.Hour,
			wantClaim: map[string]any{"merchant_id": nil, "role": "admin"},
		},
		{
			name: "developer role", args: []string{"-role", "developer"}, secret: "local-dev-secret", wantTTL: time.Hour,
			wantClaim: map[string]any{"role": "developer"},
		},
		{
			name: "empty role leaves the claim out", args: []string{"-role="}, secret: "local-dev-secret", wantTTL: time.Hour,
			wantClaim: map[string]any{"role": nil, "merchant_id": "m_demo"},
		},
		{name: "unknown role", args: []string{"-role", "bogus"}, wantCode: 2, wantStderr: `unknown role "bogus"; use one of root, admin, developer, viewer`},
		{name: "role differs in case", args: []string{"-role", "Admin"}, wantCode: 2, wantStderr: `unknown role "Admin"`},
		{name: "bad ttl", args: []string{"-ttl", "-1h"}, wantCode: 1},
		{name: "unknown flag", args: []string{"-bogus"}, wantCode: 2},
		{name: "stray argument", args: []string{"extra"}, wantCode: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"token"}, tt.args...), envFrom(tt.env), &stdout, &stderr, slog.New(slog.DiscardHandler))
			if code != tt.wantCode {
				t.Fatalf("exit %d, want %d; stderr %s", code, tt.wantCode, stderr.String())
			}
			if tt.wantCode != 0 {
				if stdout.Len() != 0 {
					t.Errorf("stdout = %q on failure", stdout.String())
				}
				if !strings.Contains(stderr.String(), tt.wantStderr) {
					t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
				}
				return
			}
			out := stdout.String()
			if !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 || strings.Count(out, ".") != 2 {
				t.Fatalf("stdout = %q, want exactly one JWT line", out)
			}
			claims := jwt.MapClaims{}
			tok, err := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired()).
				ParseWithClaims(strings.TrimSpace(out), claims, func(*jwt.Token) (any, error) { return []byte(tt.secret), nil })
			if err != nil || !tok.Valid {
				t.Fatalf("token does not verify: %v", err)
			}
			for k, v := range tt.wantClaim {
				got, present := claims[k]
				if v == nil {
					if present {
						t.Errorf("claim %s = %v, want absent", k, got)
					}
					continue
				}
				if got != v {
					t.Errorf("claim %s = %v, want %v", k, got, v)
				}
			}
			iat, _ := claims.GetIssuedAt()
			exp, _ := claims.GetExpirationTime()
			if iat == nil || exp == nil || exp.Sub(iat.Time) != tt.wantTTL {
				t.Errorf("iat %v exp %v, want ttl %s", iat, exp, tt.wantTTL)
			}
			// The gateway accepts what the subcommand prints.
			v := &JWTVerifier{Secret: []byte(tt.secret), Issuer: localIssuer, Audiences: []string{localAudience}, Now: now}
			if _, fail := v.Authenticate("Bearer "+strings.TrimSpace(out), nil); fail != nil {
				t.Errorf("gateway refuses the token: %s", fail.Reason)
			}
		})
	}
}

func TestParseServeFlags(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		env          map[string]string
		wantTemplate string
		wantPort     int
		wantSecret   string
		wantErr      bool
	}{
		{name: "defaults", wantTemplate: "template.yaml", wantPort: 3000, wantSecret: "local-dev-secret"},
		{name: "env", env: map[string]string{"TEMPLATE": "x.yaml", "PORT": "4000", "DEV_JWT_SECRET": "s"}, wantTemplate: "x.yaml", wantPort: 4000, wantSecret: "s"},
		{name: "flags win", args: []string{"-template", "y.yaml", "-port", "5000"}, env: map[string]string{"TEMPLATE": "x.yaml", "PORT": "4000"}, wantTemplate: "y.yaml", wantPort: 5000, wantSecret: "local-dev-secret"},
		{name: "bad port", env: map[string]string{"PORT": "http"}, wantErr: true},
		{name: "port out of range", args: []string{"-port", "70000"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := parseServeFlags("gateway", tt.args, envFrom(tt.env), io.Discard)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if opts.template != tt.wantTemplate || opts.port != tt.wantPort || string(opts.secret) != tt.wantSecret {
				t.Errorf("opts = %q %d %q", opts.template, opts.port, opts.secret)
			}
		})
	}
}

func TestRoutesSubcommand(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"routes", "-template", "testdata/template.yaml"}, envFrom(nil), &stdout, &stderr, slog.New(slog.DiscardHandler))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"POST /v1/verify", "none (AWS_IAM in AWS)", "GET /v1/keys/{id}", "jwt", "ANY /demo/{proxy+}", "lambda authorize payload=2.0 simple"} {
		if !strings.Contains(out, want) {
			t.Errorf("routes output lacks %q:\n%s", want, out)
		}
	}
}

func TestServe(t *testing.T) {
	logs := &syncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, nil))
	t.Cleanup(func() {
		authorizerRegistryMu.Lock()
		delete(authorizerRegistry, "authorize")
		authorizerRegistryMu.Unlock()
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	addrCh := make(chan string, 1)
	release := make(chan struct{})
	var cleaned atomic.Bool
	opts := serveOptions{
		template: "testdata/template.yaml",
		port:     0,
		secret:   testSecret,
		region:   "us-east-1",
		onListen: func(addr string) { addrCh <- addr },
		registry: func(ctx context.Context) (map[string]Handler, func(context.Context) error, func(), error) {
			<-release // functions still loading
			ok := func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
				return events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{}`}, nil
			}
			registerAuthorizer("authorize", lambda.NewHandler(func(_ context.Context, ev events.APIGatewayV2CustomAuthorizerV2Request) (events.APIGatewayV2CustomAuthorizerSimpleResponse, error) {
				return events.APIGatewayV2CustomAuthorizerSimpleResponse{IsAuthorized: ev.Headers["x-api-key"] == "paykeys_sk_test_ok"}, nil
			}))
			return map[string]Handler{"verify": ok, "demo": ok}, nil, func() { cleaned.Store(true) }, nil
		},
	}
	done := make(chan error, 1)
	go func() { done <- serve(ctx, opts, logger) }()

	var base string
	select {
	case addr := <-addrCh:
		base = "http://" + addr
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("listening on %s, want 127.0.0.1", addr)
		}
	case err := <-done:
		t.Fatalf("serve returned early: %v", err)
	}
	get := func(method, path string, header ...string) int {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := get("GET", "/healthz"); code != 503 {
		t.Errorf("healthz while loading = %d, want 503", code)
	}
	close(release)
	deadline := time.Now().Add(5 * time.Second)
	for get("GET", "/healthz") != 200 {
		if time.Now().After(deadline) {
			t.Fatal("healthz never became ready")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if code := get("POST", "/v1/verify"); code != 200 {
		t.Errorf("POST /v1/verify = %d", code)
	}
	if code := get("POST", "/v1/keys"); code != 401 {
		t.Errorf("POST /v1/keys without token = %d, want 401", code)
	}
	if code := get("GET", "/demo/payments", "X-API-Key", "paykeys_sk_test_ok"); code != 200 {
		t.Errorf("GET /demo/payments with a key = %d, want 200", code)
	}
	if code := get("GET", "/demo/payments", "X-API-Key", "paykeys_sk_live_no"); code != 403 {
		t.Errorf("GET /demo/payments with a refused key = %d, want 403", code)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !cleaned.Load() {
		t.Error("cleanup did not run")
	}
	out := logs.String()
	for _, want := range []string{"no handler for function create", `"authorizers":1`, `"msg":"shutting down"`} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

func TestServeFailures(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("Resources: {A: {Type: AWS::Serverless::Function, Properties: {Events: {E: {Type: HttpApi, Properties: {Path: /a, Method: FETCH}}}}}}"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts serveOptions
		want string
	}{
		{"missing template", serveOptions{template: filepath.Join(dir, "none.yaml")}, "read template"},
		{"invalid route", serveOptions{template: bad}, "unsupported method"},
		{"registry error", serveOptions{template: "testdata/template.yaml", registry: func(context.Context) (map[string]Handler, func(context.Context) error, func(), error) {
			return nil, nil, nil, errors.New("no AWS config")
		}}, "load functions: no AWS config"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := serve(context.Background(), tt.opts, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}
