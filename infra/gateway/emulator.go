package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
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
			go func() { defer es.wg.Done(); em.supervise(runCtx) }()
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
// on its own, then stops it.
func (em *emulator) supervise(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		exited, err := em.start()
		if err != nil {
			em.opts.log.Error("emulator did not start", "function", em.fn.Name, "emulator", em.id, "error", err.Error())
		} else {
			go em.watchUp(ctx, exited)
			select {
			case <-ctx.Done():
				em.up.Store(false)
				em.terminate(exited)
				return
			case err := <-exited:
				em.up.Store(false)
				em.opts.log.Error("emulator exited; restarting it", "function", em.fn.Name, "emulator", em.id, "error", fmt.Sprint(err))
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

// start launches the emulator in a process group of its own (so Ctrl-C in
// the terminal reaches the gateway, which stops the emulators after the
// requests in flight) that dies with the gateway.
func (em *emulator) start() (chan error, error) {
	apiPort, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	runtimePort, err := freeLoopbackPort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(apiPort))
	dir := filepath.Join(em.opts.binDir, em.fn.Name)
	cmd := exec.Command(em.opts.rie,
		"--runtime-interface-emulator-address", addr,
		"--runtime-api-address", net.JoinHostPort("127.0.0.1", strconv.Itoa(runtimePort)),
		filepath.Join(dir, "bootstrap"))
	cmd.Dir = dir
	cmd.Env = functionEnv(em.fn, em.opts.getenv, em.opts.region)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out := &lineWriter{w: em.opts.out, tap: em.opts.tap, debug: em.opts.debug}
	cmd.Stdout, cmd.Stderr = out, out
	// Pdeathsig fires when the thread that started the process exits; the
	// Go runtime ends a thread only when a goroutine locked to it returns,
	// which this one never does, so it fires when the gateway dies.
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	em.mu.Lock()
	em.addr, em.cmd = addr, cmd
	em.mu.Unlock()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.flush() }()
	return exited, nil
}

// watchUp marks the emulator up once it accepts connections.
func (em *emulator) watchUp(ctx context.Context, exited chan error) {
	em.mu.Lock()
	addr := em.addr
	em.mu.Unlock()
	deadline := time.Now().Add(emulatorStartTimeout)
	for ctx.Err() == nil && time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			em.up.Store(true)
			return
		}
		if len(exited) > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// terminate sends SIGTERM to the emulator's process group (the emulator
// and its bootstrap), then SIGKILL if it has not exited in time. As in
// Lambda, the bootstrap has shutdownWindow after SIGTERM to write what it
// holds (usage counts, metrics) before SIGKILL.
func (em *emulator) terminate(exited chan error) {
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
// warnings and errors, and everything else the functions write, pass.
type lineWriter struct {
	mu    sync.Mutex
	w     io.Writer
	tap   io.Writer // optional: every line as written
	buf   []byte
	debug bool
}

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

func (l *lineWriter) emit(line []byte) {
	s := strings.TrimRight(string(line), "\r")
	if l.tap != nil && s != "" {
		_, _ = io.WriteString(l.tap, s+"\n")
	}
	if s == "" || (!l.debug && emulatorChatter(s)) {
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
