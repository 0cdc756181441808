// Command gateway is the local stand-in for API Gateway that `make dev` runs.
// It serves the HTTP API routes declared in template.yaml on 127.0.0.1,
// authorizes them as the template says (JWT authorizer: locally HS256 tokens
// signed with DEV_JWT_SECRET; Lambda authorizer: the authorizer function
// in-process; AWS_IAM and NONE: open), and runs the Lambda handlers
// in-process with payload format 2.0 events, so no Docker is needed.
//
// Usage:
//
//	gateway [serve] [-template template.yaml] [-port 3000]
//	gateway token [-merchant m_demo] [-role admin] [-sub user_dev] [-ttl 1h]
//	gateway routes [-template template.yaml]
//	gateway rotate [-timeout 15m]
//	gateway invoke <function> -event <file>   (RIE set: one run of the real bootstrap)
//	gateway rotate-load [-keys 100000] [-due 0.1] [-keep]
//	gateway secrets-load [-keys 10000] [-c 16] [-cut 0] [-stack-run infra/.cache/run]
//
// Environment: TEMPLATE (template path), PORT (listen port), DEV_JWT_SECRET
// (default local-dev-secret), AWS_REGION (used in ARNs). Flags win over the
// environment.
//
// GET /healthz answers 200 {"status":"ok"} once the functions are loaded and
// their readiness check passes, and 503 before.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/paykeys/paykeys/internal/redact"
)

const shutdownTimeout = maxIntegrationTimeout + 5*time.Second

func main() {
	logger := slog.New(redact.Handler(slog.NewJSONHandler(os.Stderr, nil)))
	slog.SetDefault(logger)
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr, logger))
}

// run dispatches the subcommands and returns the exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, logger *slog.Logger) int {
	if len(args) > 0 {
		switch args[0] {
		case "token":
			return runToken(args[1:], getenv, stdout, stderr, time.Now)
		case "rotate", "rotate-load":
			return runRotateCommand(args, getenv, stdout, stderr)
		case "secrets-load":
			return runSecretsLoad(args[1:], getenv, stdout, stderr)
		case "invoke":
			return runInvoke(args[1:], getenv, stdout, stderr, logger)
		case "routes":
			return runRoutes(args[1:], getenv, stdout, stderr)
		case "serve":
			args = args[1:]
		}
	}
	opts, err := parseServeFlags("gateway", args, getenv, stderr)
	if err != nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	opts.stopSignals = stop
	if err := serve(ctx, opts, logger); err != nil {
		logger.Error("gateway stopped", "error", err.Error())
		return 1
	}
	logger.Info("gateway stopped")
	return 0
}

type serveOptions struct {
	template string
	port     int
	secret   []byte
	region   string
	// mode names how the functions run, for the log: in-process (handlers,
	// wiring.go) unless RIE names the emulator (emulatorRegistry).
	mode string
	// authorizers returns the Lambda authorizers once registry has run;
	// registeredAuthorizers (what handlers registers) when nil.
	authorizers func() map[string]Invoker
	// registry loads the functions; handlers (wiring.go) unless a test sets it.
	registry func(context.Context) (map[string]Handler, func(context.Context) error, func(), error)
	// onListen, if set, is told the address once the listener is open.
	onListen func(addr string)
	// stopSignals, if set, restores default signal handling once shutdown
	// starts, so a second Ctrl-C ends the process at once.
	stopSignals func()
}

func parseServeFlags(name string, args []string, getenv func(string) string, stderr io.Writer) (serveOptions, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	template := fs.String("template", envOr(getenv, "TEMPLATE", "template.yaml"), "SAM template to read the routes from (env TEMPLATE)")
	port := fs.String("port", envOr(getenv, "PORT", "3000"), "port to listen on at 127.0.0.1 (env PORT)")
	if err := fs.Parse(args); err != nil {
		return serveOptions{}, err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(stderr, err)
		return serveOptions{}, err
	}
	p, err := strconv.Atoi(*port)
	if err != nil || p < 0 || p > 65535 {
		err := fmt.Errorf("invalid port %q", *port)
		fmt.Fprintln(stderr, err)
		return serveOptions{}, err
	}
	opts := serveOptions{
		template: *template,
		port:     p,
		secret:   devJWTSecret(getenv),
		region:   envOr(getenv, "AWS_REGION", defaultRegion),
		registry: handlers,
	}
	rie, binDir, pool, err := emulatorSettings(getenv)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return serveOptions{}, err
	}
	if rie != "" {
		opts.mode = fmt.Sprintf("emulator (%d per function)", pool)
		opts.registry, opts.authorizers = emulatorRegistry(rie, binDir, pool, func(name string) string {
			if name == "TEMPLATE" {
				return *template
			}
			return getenv(name)
		}, slog.Default(), nil)
	}
	return opts, nil
}

func envOr(getenv func(string) string, name, def string) string {
	if v := getenv(name); v != "" {
		return v
	}
	return def
}

// serve runs the gateway until ctx is done, then shuts down gracefully:
// in-flight requests finish (up to the integration timeout), then the
// functions' cleanup runs.
func serve(ctx context.Context, opts serveOptions, logger *slog.Logger) error {
	routes, warnings, err := LoadTemplate(opts.template)
	if err != nil {
		return err
	}
	for _, w := range warnings {
		logger.Warn(w)
	}
	gw, err := NewGateway(Config{Routes: routes, JWTSecret: opts.secret, Logger: logger, Region: opts.region})
	if err != nil {
		return fmt.Errorf("%s: %w", opts.template, err)
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.port)))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		WriteTimeout:      shutdownTimeout + time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	logger.Info("listening", "addr", "http://"+addr, "template", opts.template, "routes", len(routes))
	if opts.onListen != nil {
		opts.onListen(addr)
	}

	cleanup := func() {}
	defer func() { cleanup() }()
	if err := loadBackend(ctx, gw, opts, logger, &cleanup); err != nil {
		shutdown(srv, logger)
		return err
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
	if opts.stopSignals != nil {
		opts.stopSignals()
	}
	logger.Info("shutting down")
	shutdown(srv, logger)
	return nil
}

func loadBackend(ctx context.Context, gw *Gateway, opts serveOptions, logger *slog.Logger, cleanup *func()) error {
	registry := opts.registry
	if registry == nil {
		registry = handlers
	}
	hs, readiness, clean, err := registry(ctx)
	if clean != nil {
		*cleanup = clean
	}
	if err != nil {
		return fmt.Errorf("load functions: %w", err)
	}
	authorizers := opts.authorizers
	if authorizers == nil {
		authorizers = registeredAuthorizers
	}
	b := Backend{Handlers: hs, Authorizers: authorizers(), Readiness: readiness}
	for _, name := range gw.MissingFunctions(b) {
		if a, ok := strings.CutPrefix(name, "authorizer "); ok {
			logger.Warn("no authorizer handler for function " + a)
			continue
		}
		logger.Warn("no handler for function " + name)
	}
	gw.SetBackend(b)
	logger.Info("functions loaded", "mode", cmp.Or(opts.mode, "in-process"), "handlers", len(hs), "authorizers", len(b.Authorizers))
	return nil
}

func shutdown(srv *http.Server, logger *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		logger.Warn("shutdown incomplete", "error", err.Error())
		_ = srv.Close()
	}
}

// runRoutes implements `gateway routes`: the route table as the gateway
// reads it from the template, in matching order.
func runRoutes(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	opts, err := parseServeFlags("routes", args, getenv, stderr)
	if err != nil {
		return 2
	}
	routes, warnings, err := LoadTemplate(opts.template)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	router, err := NewRouter(routes)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tFUNCTION\tAUTH")
	for _, r := range router.Routes() {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Key(), r.Function, describeAuth(r.Auth))
	}
	_ = tw.Flush()
	for _, w := range warnings {
		fmt.Fprintln(stderr, "warning:", w)
	}
	return 0
}

func describeAuth(a RouteAuth) string {
	switch a.Kind {
	case AuthNone:
		if a.Authorizer == "AWS_IAM" {
			return "none (AWS_IAM in AWS)"
		}
		return "none"
	case AuthJWT:
		s := "jwt"
		if len(a.Scopes) > 0 {
			s += " scopes=" + strings.Join(a.Scopes, ",")
		}
		return s
	case AuthLambda:
		s := "lambda " + a.Function + " payload=" + a.PayloadVersion
		if a.SimpleResponses {
			s += " simple"
		}
		return s
	}
	return a.Kind.String()
}
