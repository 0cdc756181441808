package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"gopkg.in/yaml.v3"

	"github.com/paykeys/paykeys/internal/cfn"
	"github.com/paykeys/paykeys/internal/key"
)

// Emulator mode: every function runs as its real bootstrap binary under the
// Lambda Runtime Interface Emulator (aws-lambda-rie, shipped in the SAM CLI
// wheel), with no Docker. One emulator process is one Lambda execution
// environment: it serves one invocation at a time and keeps its bootstrap
// (and whatever the bootstrap caches) warm between invocations. Each function
// gets a pool of them, RIE_POOL in size.

const (
	// invokePath is the emulator's invoke API.
	invokePath = "/2015-03-31/functions/function/invocations"
	// emulatorStartTimeout bounds how long an emulator may take to listen.
	emulatorStartTimeout = 10 * time.Second
	// emulatorStopTimeout is how long an emulator has to exit after SIGTERM
	// before its process group is killed.
	emulatorStopTimeout = 3 * time.Second
	// shutdownWindow is the time Lambda gives a function between SIGTERM
	// and SIGKILL.
	shutdownWindow = 500 * time.Millisecond
	// defaultPoolSize is RIE_POOL's default.
	defaultPoolSize = 2
	maxPoolSize     = 32
)

// functionEnvNames are the variables a function gets from the gateway's own
// environment (what make dev sets) when set there, over the template's
// values; nothing else of the host's environment reaches a function, as in
// Lambda.
var functionEnvNames = []string{
	"TABLE_NAME", "SECRET_PREFIX", "SECRET_STORE", "KEK_SECRET_NAME", "WEBHOOK_KEK_SECRET_NAME", "ENVIRONMENT", "LOG_LEVEL", "CACHE_TTL", "CURSOR_KEY",
	"ROUTE_SCOPES", "EXTRA_SCOPES", "AUTHORIZER_RESPONSE", "WEBHOOK_ALLOW_PRIVATE", "MAX_KEYS_PER_MERCHANT",
	"BRAND", "LEAK_REPORT_KEYS", "LEAK_POLICY",
	"DYNAMODB_ENDPOINT", "SECRETSMANAGER_ENDPOINT",
	"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "TZ",
}

// templateFunction is an AWS::Serverless::Function of the template, with
// what its execution environment needs.
type templateFunction struct {
	LogicalID string
	Name      string // handler name: "CreateFunction" -> "create"
	Timeout   time.Duration
	MemoryMB  int
	Env       map[string]string // Globals' and its own plain-string variables
}

// templateFunctions reads every function of the template, in template order.
func templateFunctions(path string) ([]templateFunction, error) {
	root, err := cfn.ReadFile(path)
	if err != nil {
		return nil, err
	}
	globals := cfn.Get(cfn.Get(root, "Globals"), "Function")
	p := &templateParser{globalFunction: globals}
	var out []templateFunction
	for id, res := range cfn.Resources(root, "AWS::Serverless::Function") {
		props := cfn.Get(res, "Properties")
		fn := templateFunction{LogicalID: id, Name: functionName(id), Timeout: p.functionTimeout(props), MemoryMB: 128, Env: map[string]string{}}
		for _, n := range []*yaml.Node{cfn.Get(globals, "MemorySize"), cfn.Get(props, "MemorySize")} {
			if v, ok := cfn.Scalar(n); ok {
				if m, err := strconv.Atoi(v); err == nil && m > 0 {
					fn.MemoryMB = m
				}
			}
		}
		for _, vars := range []*yaml.Node{
			cfn.Get(cfn.Get(globals, "Environment"), "Variables"),
			cfn.Get(cfn.Get(props, "Environment"), "Variables"),
		} {
			for name, n := range cfn.Pairs(vars) {
				if v, ok := cfn.Scalar(n); ok {
					fn.Env[name] = v
				} else {
					// An intrinsic (!Ref Table) needs AWS: the function's own
					// value replaces Globals', and the local value fills in.
					delete(fn.Env, name)
				}
			}
		}
		out = append(out, fn)
	}
	return out, nil
}

// functionEnv is the environment of a function's execution environment:
// make dev's settings (getenv) over the template's, over the local
// defaults, plus what Lambda sets for the runtime.
func functionEnv(fn templateFunction, getenv func(string) string, region string) []string {
	vars := map[string]string{}
	for k, v := range localDefaults {
		vars[k] = v
	}
	for k, v := range fn.Env {
		vars[k] = v
	}
	for _, k := range functionEnvNames {
		if v := getenv(k); v != "" {
			vars[k] = v
		}
	}
	if vars["AWS_REGION"] == "" {
		vars["AWS_REGION"] = region
	}
	vars["AWS_DEFAULT_REGION"] = vars["AWS_REGION"]
	vars["AWS_LAMBDA_FUNCTION_NAME"] = fn.Name
	vars["AWS_LAMBDA_FUNCTION_VERSION"] = "$LATEST"
	vars["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] = strconv.Itoa(fn.MemoryMB)
	vars["AWS_LAMBDA_FUNCTION_TIMEOUT"] = strconv.Itoa(int(fn.Timeout / time.Second))
	vars["AWS_LAMBDA_LOG_GROUP_NAME"] = "/aws/lambda/" + fn.Name
	// What the template's LoggingConfig makes Lambda set: JSON logs, at
	// make dev's LOG_LEVEL.
	vars["AWS_LAMBDA_LOG_FORMAT"] = "JSON"
	vars["AWS_LAMBDA_LOG_LEVEL"] = strings.ToUpper(cmp.Or(vars["LOG_LEVEL"], "info"))
	vars["PATH"] = "/usr/local/bin:/usr/bin:/bin"
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	return out
}

// emulatorOptions say where the emulator and the bootstraps are.
type emulatorOptions struct {
	rie    string // the aws-lambda-rie binary
	binDir string // holds <name>/bootstrap per function
	pool   int
	getenv func(string) string
	region string
	log    *slog.Logger
	out    io.Writer // the functions' and emulators' output
	tap    io.Writer // optional: the same, before redaction
	debug  bool      // pass on the emulators' routine lines too
}

// functionError is a function's error as the runtime reports it.
type functionError struct {
	Message string `json:"errorMessage"`
	Type    string `json:"errorType"`
}

func (e *functionError) Error() string { return e.Message }

// asFunctionError reads an emulator response that reports a function error:
// a JSON object with errorMessage and nothing but errorType and stackTrace
// beside it (the emulator answers 200 either way).
func asFunctionError(body []byte) *functionError {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(body, &fields) != nil {
		return nil
	}
	if _, ok := fields["errorMessage"]; !ok {
		return nil
	}
	for k := range fields {
		if k != "errorMessage" && k != "errorType" && k != "stackTrace" {
			return nil
		}
	}
	var fe functionError
	if json.Unmarshal(body, &fe) != nil {
		return nil
	}
	return &fe
}

// emulator is one aws-lambda-rie process running one function's bootstrap:
// one execution environment. It is restarted if it exits on its own.
type emulator struct {
	fn   templateFunction
	opts emulatorOptions
	id   int

	mu   sync.Mutex
	addr string
	cmd  *exec.Cmd
	up   atomic.Bool
	done chan struct{} // closed when the supervisor has stopped the process
}

// emulatorPool is a function's execution environments. An invocation takes
// a free one, or waits for one.
type emulatorPool struct {
	fn        templateFunction
	instances []*emulator
	free      chan *emulator
	client    *http.Client
}

// concurrent marks the pool as safe to call at once: it is its own
// concurrency limit, so the gateway does not serialize it.
func (p *emulatorPool) concurrent() {}

// Invoke sends the event to a free emulator of the function and returns the
// function's response, or a *functionError.
func (p *emulatorPool) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var em *emulator
	select {
	case em = <-p.free:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no free execution environment: %w", p.fn.Name, ctx.Err())
	}
	defer func() { p.free <- em }()
	em.mu.Lock()
	addr := em.addr
	em.mu.Unlock()
	if !em.up.Load() {
		return nil, fmt.Errorf("%s: emulator %d is not running", p.fn.Name, em.id)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+invokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: invoke: %w", p.fn.Name, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: invoke: %w", p.fn.Name, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: emulator answered %d: %s", p.fn.Name, res.StatusCode, strings.TrimSpace(string(body)))
	}
	if fe := asFunctionError(body); fe != nil {
		return nil, fe
	}
	return body, nil
}

// Handler adapts the pool to an HTTP API handler: the event goes in as JSON
// and the payload format 2.0 response comes back.
func (p *emulatorPool) Handler() Handler {
	return func(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
		payload, err := json.Marshal(ev)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		out, err := p.Invoke(ctx, payload)
		if err != nil {
			return events.APIGatewayV2HTTPResponse{}, err
		}
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil {
			return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("%s: response is not an HTTP API response: %w", p.fn.Name, err)
		}
		return resp, nil
	}
}

// ready reports whether every emulator of the pool is listening.
func (p *emulatorPool) ready() error {
	for _, em := range p.instances {
		if !em.up.Load() {
			return fmt.Errorf("%s: emulator %d is not up", p.fn.Name, em.id)
		}
	}
	return nil
}

// emulators is every function's pool.
type emulators struct {
	pools map[string]*emulatorPool
	order []string
	stop  context.CancelFunc
	wg    sync.WaitGroup
}

// startEmulators starts opts.pool emulators for each function and returns
// once every one listens (or one fails to start).
func startEmulators(ctx context.Context, fns []templateFunction, opts emulatorOptions) (*emulators, error) {
	if opts.pool <= 0 {
		opts.pool = defaultPoolSize
	}
	// The emulators run in their functions' folders: no relative paths.
	var err error
	if opts.rie, err = filepath.Abs(opts.rie); err != nil {
		return nil, err
	}
	if opts.binDir, err = filepath.Abs(opts.binDir); err != nil {
		return nil, err
	}
	if _, err := os.Stat(opts.rie); err != nil {
		return nil, fmt.Errorf("runtime interface emulator: %w (make tools installs it with the SAM CLI)", err)
	}
	for _, fn := range fns {
		if _, err := os.Stat(filepath.Join(opts.binDir, fn.Name, "bootstrap")); err != nil {
			return nil, fmt.Errorf("function %s: %w (make functions-host builds it)", fn.Name, err)
		}
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	es := &emulators{pools: map[string]*emulatorPool{}, stop: cancel}
	transport := &http.Transport{MaxIdleConnsPerHost: opts.pool, IdleConnTimeout: time.Minute}
	for _, fn := range fns {
		p := &emulatorPool{fn: fn, free: make(chan *emulator, opts.pool), client: &http.Client{Transport: transport}}
		for i := range opts.pool {
			em := &emulator{fn: fn, opts: opts, id: i + 1, done: make(chan struct{})}
			p.instances = append(p.instances, em)
			p.free <- em
			es.wg.Add(1)
			go func() { defer es.wg.Done(); em.supervise(runCtx, em.startReady, em.terminate) }()
		}
		es.pools[fn.Name] = p
		es.order = append(es.order, fn.Name)
	}
	deadline := time.Now().Add(emulatorStartTimeout)
	for {
		err := es.ready()
		if err == nil {
			opts.log.Info("emulators up", "functions", len(fns), "per_function", opts.pool)
			return es, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			es.close()
			return nil, fmt.Errorf("emulators did not start: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (es *emulators) ready() error {
	for _, name := range es.order {
		if err := es.pools[name].ready(); err != nil {
			return err
		}
	}
	return nil
}

// close stops every emulator and its bootstrap and waits for them.
func (es *emulators) close() {
	es.stop()
	es.wg.Wait()
}

// supervise runs the emulator until ctx ends, restarting it when it exits
// on its own, then stops it: start (em.startReady) returns once a start
// listens, and stop (em.terminate) ends it. A start that launch gave up
// on, and an exit after the emulator listened, are errors.
func (em *emulator) supervise(ctx context.Context, start func(context.Context) (<-chan error, error), stop func(<-chan error)) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		exited, err := launch(ctx, em.opts.log, em.logAttrs(), start)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			em.opts.log.Error("emulator did not start", append(em.logAttrs(), "error", err.Error())...)
		default:
			em.up.Store(true)
			select {
			case <-ctx.Done():
				em.up.Store(false)
				stop(exited)
				return
			case err := <-exited:
				em.up.Store(false)
				em.opts.log.Error("emulator exited; restarting it", append(em.logAttrs(), "error", fmt.Sprint(err))...)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (em *emulator) logAttrs() []any { return []any{"function", em.fn.Name, "emulator", em.id} }

// startAttempts bounds the starts in a row of an emulator that exits before
// it listens.
const startAttempts = 5

// earlyExit is a start whose emulator exited before it listened. The cause
// is nearly always its port: freeLoopbackPort finds a port free at one
// moment and the emulator binds it a little later, so another process (a
// client's outgoing connection, another program's listener) can take it in
// between, and the emulator exits at once ("bind: address already in
// use"). Reason is the line the emulator gave.
type earlyExit struct {
	status error // cmd.Wait's
	reason string
}

func (e *earlyExit) Error() string {
	return fmt.Sprintf("exited before it listened (%v): %s", e.status, cmp.Or(e.reason, "no output"))
}

// launch starts an emulator with start and returns the channel its exit
// comes on, once it listens. A start that exits before it listens
// (*earlyExit) is tried again at once, on fresh ports, up to startAttempts
// starts, each retry logged as a warning with the emulator's reason; only
// then does launch give up with the last start's error. Any other failure
// (the emulator does not run, or does not listen in time) is returned at
// once: trying again would not help.
func launch(ctx context.Context, log *slog.Logger, attrs []any, start func(context.Context) (<-chan error, error)) (<-chan error, error) {
	for attempt := 1; ; attempt++ {
		exited, err := start(ctx)
		var early *earlyExit
		if err == nil || !errors.As(err, &early) || ctx.Err() != nil {
			return exited, err
		}
		if attempt == startAttempts {
			return nil, fmt.Errorf("%d starts in a row exited before listening; the last one %w", attempt, err)
		}
		log.Warn("emulator exited before it listened; starting it again on a fresh port",
			append(attrs, "attempt", attempt, "reason", early.Error())...)
	}
}

// startReady starts the emulator and waits until it accepts connections on
// both its ports. Its output is held until then: a start that exits first
// (*earlyExit) drops it, but for the reason it gives (all of it passes at
// debug).
func (em *emulator) startReady(ctx context.Context) (<-chan error, error) {
	out := &lineWriter{w: em.opts.out, tap: em.opts.tap, debug: em.opts.debug, hold: true}
	exited, runtimeAddr, err := em.start(out)
	if err != nil {
		return nil, err
	}
	em.mu.Lock()
	addr := em.addr
	em.mu.Unlock()
	deadline := time.Now().Add(emulatorStartTimeout)
	for {
		// Both ports: the emulator binds its runtime API in a goroutine of
		// its own, so it can fail there after the invoke API listens.
		if accepts(addr) && accepts(runtimeAddr) && len(exited) == 0 {
			out.release()
			return exited, nil
		}
		select {
		case status := <-exited:
			early := &earlyExit{status: status, reason: out.reason()}
			if em.opts.debug {
				out.release()
			}
			return nil, early
		case <-ctx.Done():
			em.terminate(exited)
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out.release()
			em.terminate(exited)
			return nil, fmt.Errorf("not listening on %s after %s", addr, emulatorStartTimeout)
		}
	}
}

// start launches the emulator in a process group of its own (so Ctrl-C in
// the terminal reaches the gateway, which stops the emulators after the
// requests in flight) that dies with the gateway. Its two ports, the invoke
// API's and the runtime API's, are fresh picks (see earlyExit); the
// emulator cannot pick the runtime API's itself, as it would tell the
// bootstrap port 0.
func (em *emulator) start(out *lineWriter) (exited chan error, runtimeAddr string, err error) {
	apiPort, err := freeLoopbackPort()
	if err != nil {
		return nil, "", err
	}
	runtimePort, err := freeLoopbackPort()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))
	runtimeAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(runtimePort))
	dir := filepath.Join(em.opts.binDir, em.fn.Name)
	cmd := exec.Command(em.opts.rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", runtimeAddr,
		filepath.Join(dir, "bootstrap"))
	cmd.Dir = dir
	cmd.Env = functionEnv(em.fn, em.opts.getenv, em.opts.region)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig fires when the thread that started the process exits; the
	// Go runtime ends a thread only when a goroutine locked to it returns,
	// which this one never does, so it fires when the gateway dies.
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	em.mu.Lock()
	em.addr, em.cmd = addr, cmd
	em.mu.Unlock()
	exited = make(chan error, 1)
	go func() { err := cmd.Wait(); out.flush(); exited <- err }()
	return exited, runtimeAddr, nil
}

// accepts reports whether something accepts connections at addr.
func accepts(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err == nil {
		c.Close()
	}
	return err == nil
}

// terminate sends SIGTERM to the emulator's process group (the emulator
// and its bootstrap), then SIGKILL if it has not exited in time. As in
// Lambda, the bootstrap has shutdownWindow after SIGTERM to write what it
// holds (usage counts, metrics) before SIGKILL.
func (em *emulator) terminate(exited <-chan error) {
	em.mu.Lock()
	pid := em.cmd.Process.Pid
	em.mu.Unlock()
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	window := time.After(shutdownWindow)
	select {
	case <-exited:
	case <-time.After(emulatorStopTimeout):
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-exited
	}
	// The bootstrap outlives the emulator: it goes at the end of its window.
	<-window
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

func freeLoopbackPort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// lineWriter passes the functions' and emulators' output on line by line,
// with anything secret-shaped redacted. The emulator's own per-invocation
// lines (see emulatorChatter) are dropped unless LOG_LEVEL is debug; its
// warnings and errors, and everything else the functions write, pass. With
// hold set, lines wait (up to maxHeld) until release.
type lineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	tap   io.Writer // optional: every line as written
	buf   []byte
	debug bool
	hold  bool
	held  []string
}

// maxHeld bounds the lines a lineWriter holds; more are passed on.
const maxHeld = 200

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.emit(l.buf[:i])
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 64<<10 {
		l.emit(l.buf)
		l.buf = nil
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		l.emit(l.buf)
		l.buf = nil
	}
}

// release passes the held lines on, and stops holding.
func (l *lineWriter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.releaseLocked()
}

func (l *lineWriter) releaseLocked() {
	l.hold = false
	for _, s := range l.held {
		l.pass(s)
	}
	l.held = nil
}

// reason is the held line that says why the emulator stopped: its first
// panic, fatal or error line, else the last line it wrote.
func (l *lineWriter) reason() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range l.held {
		for _, level := range []string{"[PANIC]", "[FATAL]", "[ERROR]"} {
			if strings.Contains(s, level) {
				return key.RedactSecrets(s)
			}
		}
	}
	if len(l.held) == 0 {
		return ""
	}
	return key.RedactSecrets(l.held[len(l.held)-1])
}

func (l *lineWriter) emit(line []byte) {
	s := strings.TrimRight(string(line), "\r")
	if s == "" {
		return
	}
	if l.tap != nil {
		_, _ = io.WriteString(l.tap, s+"\n")
	}
	if l.hold && len(l.held) < maxHeld {
		l.held = append(l.held, s)
		return
	}
	l.releaseLocked()
	l.pass(s)
}

func (l *lineWriter) pass(s string) {
	if !l.debug && emulatorChatter(s) {
		return
	}
	_, _ = io.WriteString(l.w, key.RedactSecrets(s)+"\n")
}

// emulatorChatter reports the routine lines: the emulator's per-invocation
// lines, its note on being stopped, and the webhook function's summary of a
// sweep that had nothing to do (make dev sweeps every second).
func emulatorChatter(s string) bool {
	for _, p := range []string{"START RequestId:", "END RequestId:", "REPORT RequestId:"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return strings.Contains(s, "[INFO] (rapid)") ||
		strings.Contains(s, "(rapid) Reset initiated: SandboxTerminated") ||
		strings.Contains(s, `"message":"sweep","events":0,"attempts":0,"errors":0,`)
}
