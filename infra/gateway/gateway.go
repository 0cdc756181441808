package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/paykeys/paykeys/internal/portal"
	"github.com/paykeys/paykeys/internal/redact"
)

// Handler is an HTTP API Lambda handler (payload format 2.0), the same
// function each Lambda's main passes to lambda.Start.
type Handler func(context.Context, events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error)

const (
	// defaultMaxBodyBytes caps request bodies near an HTTP API's 10 MB
	// payload limit; the handlers enforce the API's own 64 KiB limit.
	defaultMaxBodyBytes = 10 << 20
	defaultAccountID    = "123456789012"
	defaultRegion       = "us-east-1"
	healthPath          = "/healthz"
	readinessTimeout    = 5 * time.Second
)

// Config configures a Gateway.
type Config struct {
	Routes []Route
	// JWTSecret signs local management API tokens (DEV_JWT_SECRET).
	JWTSecret []byte
	// JWTIssuer and JWTAudience are what tokens must carry in iss and aud;
	// empty means paykeys-local and paykeys, what `gateway token` writes.
	JWTIssuer   string
	JWTAudience []string
	// Logger receives the access log and errors; nil discards them.
	Logger *slog.Logger
	// AccountID and Region appear in events and ARNs.
	AccountID string
	Region    string
	// MaxBodyBytes caps request bodies (default 10 MiB); larger is 413.
	MaxBodyBytes int64
	// Now is the clock for event times and JWT checks; nil means time.Now.
	Now func() time.Time
}

// Backend is what runs behind the routes: handlers and Lambda authorizers by
// function name, and a readiness check for /healthz (nil means ready).
type Backend struct {
	Handlers    map[string]Handler
	Authorizers map[string]Invoker
	Readiness   func(context.Context) error
}

// concurrentInvoker is an Invoker that limits its own concurrency, such as
// a function's pool of emulators.
type concurrentInvoker interface {
	Invoker
	concurrent()
}

// Gateway is an http.Handler standing in for an API Gateway HTTP API: it
// routes by the template's routes, authorizes like the JWT or Lambda
// authorizer the route names, invokes the function in-process with a payload
// format 2.0 event, and writes its response back. Until SetBackend is called,
// routes answer 503 and /healthz is not ready.
type Gateway struct {
	router    *Router
	jwt       *JWTVerifier
	log       *slog.Logger
	accountID string
	region    string
	maxBody   int64
	now       func() time.Time
	backend   atomic.Pointer[Backend]
}

// NewGateway validates the routes and builds a gateway with no backend yet.
func NewGateway(cfg Config) (*Gateway, error) {
	router, err := NewRouter(cfg.Routes)
	if err != nil {
		return nil, err
	}
	g := &Gateway{
		router:    router,
		jwt:       &JWTVerifier{Secret: cfg.JWTSecret, Issuer: cfg.JWTIssuer, Audiences: cfg.JWTAudience, Now: cfg.Now},
		log:       cfg.Logger,
		accountID: cfg.AccountID,
		region:    cfg.Region,
		maxBody:   cfg.MaxBodyBytes,
		now:       cfg.Now,
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	if g.jwt.Issuer == "" {
		g.jwt.Issuer = localIssuer
	}
	if len(g.jwt.Audiences) == 0 {
		g.jwt.Audiences = []string{localAudience}
	}
	// The access log's path, and anything else logged, may hold a secret a
	// caller put in a URL: it is redacted.
	g.log = slog.New(redact.Handler(g.log.Handler()))
	if g.accountID == "" {
		g.accountID = defaultAccountID
	}
	if g.region == "" {
		g.region = defaultRegion
	}
	if g.maxBody <= 0 {
		g.maxBody = defaultMaxBodyBytes
	}
	if g.now == nil {
		g.now = time.Now
	}
	return g, nil
}

// SetBackend installs the functions behind the routes. Authorizers are
// invoked one at a time each, as a single Lambda execution environment would,
// unless they are a concurrentInvoker (a pool of execution environments).
func (g *Gateway) SetBackend(b Backend) {
	auths := make(map[string]Invoker, len(b.Authorizers))
	for name, fn := range b.Authorizers {
		switch fn.(type) {
		case nil:
		case concurrentInvoker:
			auths[name] = fn
		default:
			auths[name] = &serialInvoker{fn: fn}
		}
	}
	b.Authorizers = auths
	g.backend.Store(&b)
}

// MissingFunctions lists the functions the routes name that b does not
// provide, "authorizer " prefixed for Lambda authorizers.
func (g *Gateway) MissingFunctions(b Backend) []string {
	var missing []string
	seen := map[string]bool{}
	for _, r := range g.router.Routes() {
		if _, ok := b.Handlers[r.Function]; !ok && !seen[r.Function] {
			seen[r.Function] = true
			missing = append(missing, r.Function)
		}
		if r.Auth.Kind == AuthLambda {
			name := "authorizer " + r.Auth.Function
			if _, ok := b.Authorizers[r.Auth.Function]; !ok && !seen[name] {
				seen[name] = true
				missing = append(missing, name)
			}
		}
	}
	return missing
}

// ServeHTTP serves one request and writes one access log line for it.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := newRequestID()
	w.Header().Set("apigw-requestid", reqID)
	sw := &statusWriter{ResponseWriter: w}
	var route Route
	defer func() {
		g.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.String("route", route.Key()),
			slog.String("function", route.Function),
			slog.Int("status", sw.status()),
			slog.Float64("latency_ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("request_id", reqID),
		)
	}()

	if r.URL.Path == healthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		route = Route{Method: http.MethodGet, Path: healthPath}
		g.serveHealth(sw, r, reqID)
		return
	}
	if r.URL.Path == portal.DevTokenPath {
		route = Route{Method: http.MethodPost, Path: portal.DevTokenPath}
		g.serveDevSignIn(sw, r, reqID)
		return
	}
	var params map[string]string
	var ok bool
	if route, params, ok = g.router.Match(r.Method, r.URL.Path); !ok {
		writeMessage(sw, http.StatusNotFound, "Not Found")
		return
	}
	b := g.backend.Load()
	if b == nil {
		writeMessage(sw, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	g.serveRoute(sw, r, b, route, params, reqID)
}

func (g *Gateway) serveHealth(w http.ResponseWriter, r *http.Request, reqID string) {
	w.Header().Set("Content-Type", "application/json")
	b := g.backend.Load()
	if b == nil {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, `{"status":"starting"}`)
		return
	}
	if b.Readiness != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readinessTimeout)
		defer cancel()
		if err := b.Readiness(ctx); err != nil {
			g.log.Warn("not ready", "request_id", reqID, "error", err.Error())
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, `{"status":"unavailable"}`)
			return
		}
	}
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"status":"ok"}`)
}

func (g *Gateway) serveRoute(w http.ResponseWriter, r *http.Request, b *Backend, route Route, params map[string]string, reqID string) {
	ev := buildEvent(r, route, params, eventMeta{
		RequestID: reqID,
		Time:      g.now(),
		AccountID: g.accountID,
		APIID:     apiID(route.API),
	})
	logAttrs := []any{"request_id", reqID, "route", route.Key(), "function", route.Function}

	switch route.Auth.Kind {
	case AuthJWT:
		jwtDesc, fail := g.jwt.Authenticate(ev.Headers[route.Auth.TokenHeader], route.Auth.Scopes)
		if fail != nil {
			g.log.Info("jwt authorizer refused the request", append(logAttrs, "status", fail.Status, "reason", fail.Reason)...)
			fail.write(w)
			return
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{JWT: jwtDesc}
	case AuthLambda:
		authContext, fail, err := g.lambdaAuthorize(r.Context(), b, route, ev)
		if err != nil {
			g.log.Error("lambda authorizer failed", append(logAttrs, "authorizer", route.Auth.Function, "error", err.Error())...)
			writeFunctionFailure(w, err)
			return
		}
		if fail != nil {
			fail.write(w)
			return
		}
		if authContext == nil {
			authContext = map[string]any{}
		}
		ev.RequestContext.Authorizer = &events.APIGatewayV2HTTPRequestContextAuthorizerDescription{Lambda: authContext}
	}

	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, g.maxBody))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			writeMessage(w, http.StatusRequestEntityTooLarge, "Request Entity Too Large")
			return
		}
		writeMessage(w, http.StatusBadRequest, "Bad Request")
		return
	}
	ev.Body, ev.IsBase64Encoded = encodeBody(body, r.Header.Get("Content-Type"))

	h := b.Handlers[route.Function]
	if h == nil {
		g.log.Error("no handler for function "+route.Function, logAttrs...)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
		return
	}
	resp, err := runFunction(r.Context(), g, route.Function, route.Timeout, route.IntegrationTimeout,
		func(ctx context.Context) (events.APIGatewayV2HTTPResponse, error) { return h(ctx, ev) })
	if err != nil {
		g.logFunctionError(err, logAttrs)
		writeFunctionFailure(w, err)
		return
	}
	if err := writeResponse(w, resp); err != nil {
		g.log.Error("function returned a response API Gateway cannot use", append(logAttrs, "error", err.Error())...)
		writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
	}
}

// lambdaAuthorize calls the route's Lambda authorizer. It returns the
// authorizer's context on Allow, a failure for 401/403, or an error for 500
// (or 503 on an integration timeout).
func (g *Gateway) lambdaAuthorize(ctx context.Context, b *Backend, route Route, ev events.APIGatewayV2HTTPRequest) (map[string]any, *authFailure, error) {
	identity, ok := identityValues(ev, route.Auth)
	if !ok {
		return nil, &authFailure{Status: http.StatusUnauthorized, Reason: "identity source missing"}, nil
	}
	inv := b.Authorizers[route.Auth.Function]
	if inv == nil {
		return nil, nil, fmt.Errorf("no authorizer handler for function %s", route.Auth.Function)
	}
	arn := routeArn(g.region, g.accountID, ev.RequestContext.APIID, ev.RequestContext.HTTP.Method, ev.RawPath)
	payload, err := json.Marshal(lambdaAuthorizerEvent(ev, route.Auth, arn, identity))
	if err != nil {
		return nil, nil, fmt.Errorf("encode authorizer event: %w", err)
	}
	timeout := route.Auth.Timeout
	if timeout <= 0 {
		timeout = defaultFunctionTimeout
	}
	out, err := runFunction(ctx, g, route.Auth.Function, timeout, maxIntegrationTimeout,
		func(ctx context.Context) ([]byte, error) { return inv.Invoke(ctx, payload) })
	if unauthorizedError(err) {
		return nil, &authFailure{Status: http.StatusUnauthorized, Reason: "authorizer: Unauthorized"}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	allowed, authContext, err := authorizerDecision(out, route.Auth, arn)
	if err != nil {
		return nil, nil, err
	}
	if !allowed {
		return nil, &authFailure{Status: http.StatusForbidden, Reason: "authorizer denied"}, nil
	}
	return authContext, nil, nil
}

var (
	errFunctionTimeout    = errors.New("function timed out")
	errIntegrationTimeout = errors.New("integration timed out")
)

type panicError struct {
	value any
	stack []byte
}

func (p *panicError) Error() string { return fmt.Sprintf("panic: %v", p.value) }

// runFunction invokes a function like Lambda behind API Gateway: the
// function's context carries a Lambda context and a deadline of the
// function's timeout, and is not cancelled when the client goes away; a panic
// is recovered into an error; if the function runs past its timeout that is
// errFunctionTimeout (API Gateway answers 500), and past the integration
// timeout, when shorter, errIntegrationTimeout (503).
func runFunction[T any](parent context.Context, g *Gateway, name string, fnTimeout, integrationTimeout time.Duration, call func(context.Context) (T, error)) (T, error) {
	if fnTimeout <= 0 {
		fnTimeout = defaultFunctionTimeout
	}
	if integrationTimeout <= 0 {
		integrationTimeout = maxIntegrationTimeout
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(parent), fnTimeout)
	defer cancel()
	ctx = lambdacontext.NewContext(ctx, &lambdacontext.LambdaContext{
		AwsRequestID:       newUUID(),
		InvokedFunctionArn: fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", g.region, g.accountID, name),
	})

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: &panicError{value: p, stack: debug.Stack()}}
			}
		}()
		v, err := call(ctx)
		done <- result{v: v, err: err}
	}()

	wait, timeoutErr := fnTimeout, errFunctionTimeout
	if integrationTimeout < fnTimeout {
		wait, timeoutErr = integrationTimeout, errIntegrationTimeout
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case res := <-done:
		return res.v, res.err
	case <-timer.C:
		var zero T
		return zero, fmt.Errorf("%w after %s", timeoutErr, wait)
	}
}

func (g *Gateway) logFunctionError(err error, attrs []any) {
	var p *panicError
	if errors.As(err, &p) {
		g.log.Error("function panicked", append(attrs, "panic", fmt.Sprint(p.value), "stack", string(p.stack))...)
		return
	}
	g.log.Error("function returned an error", append(attrs, "error", err.Error())...)
}

// writeFunctionFailure writes API Gateway's answer to a failed invocation.
func writeFunctionFailure(w http.ResponseWriter, err error) {
	if errors.Is(err, errIntegrationTimeout) {
		writeMessage(w, http.StatusServiceUnavailable, "Service Unavailable")
		return
	}
	writeMessage(w, http.StatusInternalServerError, "Internal Server Error")
}

// apiID turns an API's logical ID into a stand-in API ID ("ManagementApi" -> "managementapi").
func apiID(logicalID string) string {
	return strings.Map(func(r rune) rune {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return unicode.ToLower(r)
		}
		return -1
	}, logicalID)
}

// statusWriter remembers the status code for the access log.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
