package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/testenv"
)

func TestAsFunctionError(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantMsg string // "" means not an error
	}{
		{"runtime error", `{"errorMessage":"Unauthorized","errorType":"errorString"}`, "Unauthorized"},
		{"with stack", `{"errorMessage":"boom","errorType":"runtime.Error","stackTrace":[]}`, "boom"},
		{"http response", `{"statusCode":200,"body":"{\"errorMessage\":\"x\"}"}`, ""},
		{"response with an errorMessage field too", `{"errorMessage":"x","statusCode":500}`, ""},
		{"simple authorizer response", `{"isAuthorized":false}`, ""},
		{"not an object", `[1,2]`, ""},
		{"empty", ``, ""},
		{"null", `null`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := asFunctionError([]byte(tt.body))
			switch {
			case tt.wantMsg == "" && fe != nil:
				t.Errorf("read %q as the error %q", tt.body, fe.Message)
			case tt.wantMsg != "" && (fe == nil || fe.Message != tt.wantMsg):
				t.Errorf("asFunctionError(%q) = %v, want %q", tt.body, fe, tt.wantMsg)
			}
		})
	}
	if !unauthorizedError(asFunctionError([]byte(`{"errorMessage":"Unauthorized","errorType":"errorString"}`))) {
		t.Error("an authorizer's Unauthorized error from the emulator is not read as API Gateway's 401")
	}
}

func TestTemplateFunctionsAndEnv(t *testing.T) {
	fns, err := templateFunctions("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]templateFunction{}
	var names []string
	for _, f := range fns {
		byName[f.Name] = f
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if got, want := strings.Join(names, ","), "authorize,claims,create,demo,keys,portal,reset,rotate,verify,webhook,webhooks"; got != want {
		t.Fatalf("functions = %s, want %s", got, want)
	}
	if f := byName["rotate"]; f.Timeout != 900*time.Second || f.MemoryMB != 512 {
		t.Errorf("rotate: timeout %s, memory %d", f.Timeout, f.MemoryMB)
	}
	if f := byName["create"]; f.Timeout != 10*time.Second || f.MemoryMB != 256 {
		t.Errorf("create: timeout %s, memory %d", f.Timeout, f.MemoryMB)
	}

	tests := []struct {
		name string
		fn   string
		env  map[string]string
		want map[string]string // "" means absent
	}{
		{
			name: "template values and local defaults",
			fn:   "authorize",
			want: map[string]string{
				"ROUTE_SCOPES":                    byName["authorize"].Env["ROUTE_SCOPES"],
				"TABLE_NAME":                      "paykeys-local",
				"ENVIRONMENT":                     "test",
				"CACHE_TTL":                       "",
				"AWS_LAMBDA_FUNCTION_TIMEOUT":     "5",
				"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
				"AWS_LAMBDA_FUNCTION_NAME":        "authorize",
				"AWS_REGION":                      "us-east-1",
			},
		},
		{
			name: "make dev's settings win over the template",
			fn:   "webhooks",
			env:  map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true", "TABLE_NAME": "t1", "DYNAMODB_ENDPOINT": "http://127.0.0.1:8206"},
			want: map[string]string{"WEBHOOK_ALLOW_PRIVATE": "true", "TABLE_NAME": "t1", "DYNAMODB_ENDPOINT": "http://127.0.0.1:8206"},
		},
		{
			name: "JSON logs at make dev's level, as the template's LoggingConfig asks",
			fn:   "authorize",
			env:  map[string]string{"LOG_LEVEL": "warn"},
			want: map[string]string{"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "WARN"},
		},
		{
			name: "the template's own value without make dev",
			fn:   "webhook",
			want: map[string]string{"WEBHOOK_ALLOW_PRIVATE": "false", "AWS_LAMBDA_FUNCTION_TIMEOUT": "300"},
		},
		{
			name: "nothing else of the host reaches a function",
			fn:   "keys",
			env:  map[string]string{"DEV_JWT_SECRET": "s3cret", "HOME": "/root", "RIE_POOL": "2"},
			want: map[string]string{"DEV_JWT_SECRET": "", "HOME": "", "RIE_POOL": ""},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]string{}
			for _, kv := range functionEnv(byName[tt.fn], envFrom(tt.env), "us-east-1") {
				k, v, _ := strings.Cut(kv, "=")
				got[k] = v
			}
			for k, want := range tt.want {
				if v, ok := got[k]; want == "" && ok || want != "" && v != want {
					t.Errorf("%s = %q (set %v), want %q", k, v, ok, want)
				}
			}
		})
	}
}

func TestEmulatorSettings(t *testing.T) {
	tests := []struct {
		name     string
		env      map[string]string
		wantRIE  bool
		wantPool int
		wantErr  bool
	}{
		{name: "off without RIE", env: map[string]string{"RIE_POOL": "3"}},
		{name: "default pool", env: map[string]string{"RIE": "rie"}, wantRIE: true, wantPool: defaultPoolSize},
		{name: "pool", env: map[string]string{"RIE": "rie", "RIE_POOL": "4"}, wantRIE: true, wantPool: 4},
		{name: "zero", env: map[string]string{"RIE": "rie", "RIE_POOL": "0"}, wantErr: true},
		{name: "too many", env: map[string]string{"RIE": "rie", "RIE_POOL": "33"}, wantErr: true},
		{name: "not a number", env: map[string]string{"RIE": "rie", "RIE_POOL": "two"}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rie, bin, pool, err := emulatorSettings(envFrom(tt.env))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if tt.wantErr {
				return
			}
			if (rie != "") != tt.wantRIE || pool != tt.wantPool {
				t.Errorf("rie %q, pool %d", rie, pool)
			}
			if tt.wantRIE && (!filepath.IsAbs(rie) || !filepath.IsAbs(bin)) {
				t.Errorf("paths are not absolute: %q %q", rie, bin)
			}
		})
	}
}

func TestLineWriter(t *testing.T) {
	tests := []struct {
		name  string
		debug bool
		in    string
		want  string
	}{
		{"function lines pass", false, "{\"msg\":\"key created\"}\n", "{\"msg\":\"key created\"}\n"},
		{"emulator chatter is dropped", false, "START RequestId: 1 Version: $LATEST\nEND RequestId: 1\nREPORT RequestId: 1\tDuration: 1 ms\n29 Nov 2026 15:34:18,995 [INFO] (rapid) INIT START\n", ""},
		{"an idle sweep is dropped", false, `{"timestamp":"t","level":"INFO","message":"sweep","events":0,"attempts":0,"errors":0,"requestId":"r"}` + "\n", ""},
		{"a sweep that sent something passes", false, `{"message":"sweep","events":1,"attempts":1,"errors":0,"requestId":"r"}` + "\n", `{"message":"sweep","events":1,"attempts":1,"errors":0,"requestId":"r"}` + "\n"},
		{"chatter passes at debug", true, "END RequestId: 1\n", "END RequestId: 1\n"},
		{"emulator warnings pass", false, "29 Nov 2026 [WARNING] (rapid) Reset initiated: Timeout\n", "29 Nov 2026 [WARNING] (rapid) Reset initiated: Timeout\n"},
		{"secrets are redacted", false, "2026/11/29 {\"errorMessage\":\"bad sk_test_AbC123xyz\"}\n", "2026/11/29 {\"errorMessage\":\"bad [REDACTED]\"}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			lw := &lineWriter{w: &out, debug: tt.debug}
			// Written in two pieces, split inside a line.
			half := len(tt.in) / 2
			_, _ = lw.Write([]byte(tt.in[:half]))
			_, _ = lw.Write([]byte(tt.in[half:]))
			lw.flush()
			if out.String() != tt.want {
				t.Errorf("got %q, want %q", out.String(), tt.want)
			}
		})
	}
}

func TestOutboxInsertFilter(t *testing.T) {
	rec := func(name, pk string) events.DynamoDBEventRecord {
		r := events.DynamoDBEventRecord{EventName: name}
		r.Change.Keys = map[string]events.DynamoDBAttributeValue{"pk": events.NewStringAttribute(pk)}
		return r
	}
	tests := []struct {
		rec  events.DynamoDBEventRecord
		want bool
	}{
		{rec("INSERT", "EVENT#evt_1"), true},
		{rec("MODIFY", "EVENT#evt_1"), false},
		{rec("REMOVE", "EVENT#evt_1"), false},
		{rec("INSERT", "KEY#ck_test_1"), false},
		{events.DynamoDBEventRecord{EventName: "INSERT"}, false},
	}
	for _, tt := range tests {
		if got := outboxInsert(tt.rec); got != tt.want {
			t.Errorf("outboxInsert(%s %v) = %v, want %v", tt.rec.EventName, tt.rec.Change.Keys, got, tt.want)
		}
	}
}

// A pool hands each invocation to a free emulator, one invocation per
// emulator at a time, and maps the emulator's answers.
func TestEmulatorPoolInvoke(t *testing.T) {
	var inFlight, most int32
	var mu = make(chan struct{}, 1)
	mu <- struct{}{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != invokePath || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		<-mu
		inFlight++
		most = max(most, inFlight)
		mu <- struct{}{}
		time.Sleep(20 * time.Millisecond)
		<-mu
		inFlight--
		mu <- struct{}{}
		var ev events.APIGatewayV2HTTPRequest
		_ = json.NewDecoder(r.Body).Decode(&ev)
		switch ev.RawPath {
		case "/fail":
			_, _ = w.Write([]byte(`{"errorMessage":"boom","errorType":"errorString"}`))
		default:
			_ = json.NewEncoder(w).Encode(events.APIGatewayV2HTTPResponse{StatusCode: 201, Body: ev.RawPath})
		}
	}))
	defer srv.Close()
	em := &emulator{fn: templateFunction{Name: "f"}, id: 1, addr: strings.TrimPrefix(srv.URL, "http://")}
	em.up.Store(true)
	p := &emulatorPool{fn: em.fn, instances: []*emulator{em}, free: make(chan *emulator, 1), client: srv.Client()}
	p.free <- em
	h := p.Handler()

	done := make(chan error, 4)
	for range 4 {
		go func() {
			resp, err := h(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/ok"})
			if err == nil && (resp.StatusCode != 201 || resp.Body != "/ok") {
				err = os.ErrInvalid
			}
			done <- err
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Fatalf("invoke: %v", err)
		}
	}
	if most != 1 {
		t.Errorf("one emulator served %d invocations at once", most)
	}
	if _, err := h(context.Background(), events.APIGatewayV2HTTPRequest{RawPath: "/fail"}); err == nil || err.Error() != "boom" {
		t.Errorf("function error = %v, want boom", err)
	}

	// Busy, it makes the caller wait until its deadline.
	<-p.free
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Invoke(ctx, []byte(`{}`)); err == nil || !strings.Contains(err.Error(), "no free execution environment") {
		t.Errorf("invoke with no free emulator = %v", err)
	}
	p.free <- em

	em.up.Store(false)
	if err := p.ready(); err == nil {
		t.Error("a pool with an emulator down is ready")
	}
	if _, err := p.Invoke(context.Background(), []byte(`{}`)); err == nil {
		t.Error("invoke on an emulator that is down succeeded")
	}
}

// What one start of a fake emulator does.
type fakeStart int

const (
	listens    fakeStart = iota // listens, and runs until stopped
	portTaken                   // exits before it listens (lost its port)
	doesNotRun                  // cannot be started at all
	crashes                     // listens, then exits on its own
)

// The supervisor in synctest's bubble, over a fake emulator whose starts
// follow a script: a start that lost its port is tried again at once and
// said as a warning with the emulator's reason, and is an error only when
// every one of startAttempts starts in a row lost it; a start that cannot
// run, and an emulator that exits after it listened, are errors and wait
// for the backoff.
func TestSuperviseRetriesStartsThatLoseTheirPort(t *testing.T) {
	const bindErr = "[PANIC] (rapid) listen tcp 127.0.0.1:41621: bind: address already in use"
	lostPort := func(n int) []fakeStart { return slices.Repeat([]fakeStart{portTaken}, n) }
	tests := []struct {
		name       string
		script     []fakeStart
		wantWarns  int
		wantErrors []string // the error lines' messages, in order
		wantErrHas string   // in the first error line's error
		lastStart  time.Duration
	}{
		{name: "listens at once", script: []fakeStart{listens}},
		{name: "lost its port twice", script: append(lostPort(2), listens), wantWarns: 2},
		{name: "lost its port on the last attempt allowed", script: append(lostPort(startAttempts-1), listens), wantWarns: startAttempts - 1},
		{
			name: "lost its port every time", script: append(lostPort(startAttempts), listens), wantWarns: startAttempts - 1,
			wantErrors: []string{"emulator did not start"}, wantErrHas: "5 starts in a row exited before listening; the last one exited before it listened (exit status 2): " + bindErr,
			lastStart: 100 * time.Millisecond,
		},
		{
			name: "cannot run", script: []fakeStart{doesNotRun, listens},
			wantErrors: []string{"emulator did not start"}, wantErrHas: "no such file", lastStart: 100 * time.Millisecond,
		},
		{
			name: "exits after it listened", script: []fakeStart{crashes, listens},
			wantErrors: []string{"emulator exited; restarting it"}, wantErrHas: "signal: segmentation fault", lastStart: 100 * time.Millisecond,
		},
		{
			name: "exits after it listened, then loses its port", script: []fakeStart{crashes, portTaken, listens}, wantWarns: 1,
			wantErrors: []string{"emulator exited; restarting it"}, lastStart: 100 * time.Millisecond,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var logs testenv.LogBuffer
				em := &emulator{fn: templateFunction{Name: "f"}, id: 1, opts: emulatorOptions{log: slog.New(slog.NewJSONHandler(&logs, nil))}}
				begin := time.Now()
				var starts []time.Duration
				stopped := 0
				start := func(ctx context.Context) (<-chan error, error) {
					starts = append(starts, time.Since(begin))
					if len(starts) > len(tt.script) {
						<-ctx.Done()
						return nil, ctx.Err()
					}
					switch tt.script[len(starts)-1] {
					case portTaken:
						return nil, &earlyExit{status: errors.New("exit status 2"), reason: bindErr}
					case doesNotRun:
						return nil, errors.New("fork/exec rie: no such file or directory")
					case crashes:
						exited := make(chan error, 1)
						exited <- errors.New("signal: segmentation fault")
						return exited, nil
					}
					return make(chan error), nil
				}
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				go func() { em.supervise(ctx, start, func(<-chan error) { stopped++ }); close(done) }()
				time.Sleep(time.Minute) // the bubble's clock: every backoff is over
				synctest.Wait()
				if !em.up.Load() {
					t.Error("the emulator is not up at the end of its script")
				}
				cancel()
				<-done
				if len(starts) != len(tt.script) || stopped != 1 {
					t.Errorf("%d starts and %d stops, want %d and 1", len(starts), stopped, len(tt.script))
				}
				if last := starts[len(starts)-1]; last != tt.lastStart {
					t.Errorf("the last start came after %v, want %v", last, tt.lastStart)
				}
				var warns int
				var errs []string
				for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
					var rec struct{ Level, Msg, Reason, Error string }
					if line == "" {
						continue
					}
					if err := json.Unmarshal([]byte(line), &rec); err != nil {
						t.Fatalf("log line %q: %v", line, err)
					}
					switch rec.Level {
					case "WARN":
						warns++
						if !strings.Contains(rec.Reason, bindErr) || !strings.Contains(rec.Msg, "fresh port") {
							t.Errorf("a warning without the emulator's reason: %s", line)
						}
					case "ERROR":
						if len(errs) == 0 && !strings.Contains(rec.Error, tt.wantErrHas) {
							t.Errorf("error %q, want it to hold %q", rec.Error, tt.wantErrHas)
						}
						errs = append(errs, rec.Msg)
					}
				}
				if warns != tt.wantWarns || !slices.Equal(errs, tt.wantErrors) {
					t.Errorf("%d warnings and errors %q, want %d and %q; log:\n%s", warns, errs, tt.wantWarns, tt.wantErrors, logs.String())
				}
			})
		})
	}
}

// A real start whose emulator exits at once, as one that lost its invoke
// API's port does: its output is held back, and the error says why.
func TestStartReadyEmulatorExitsFirst(t *testing.T) {
	dir := t.TempDir()
	rie := filepath.Join(dir, "rie")
	script := "#!/bin/sh\necho \"30 Nov 2026 00:01:31,278 [PANIC] (rapid) listen tcp $2: bind: address already in use\"\necho 'goroutine 1 [running]:'\nexit 2\n"
	if err := os.WriteFile(rie, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "f"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	em := &emulator{fn: templateFunction{Name: "f"}, id: 1, opts: emulatorOptions{rie: rie, binDir: dir, getenv: envFrom(nil), out: &out}}
	exited, err := em.startReady(context.Background())
	var early *earlyExit
	if !errors.As(err, &early) || exited != nil {
		t.Fatalf("startReady = %v, %v; want an early exit", exited, err)
	}
	if want := "listen tcp " + em.addr + ": bind: address already in use"; early.status == nil || !strings.HasSuffix(early.reason, want) {
		t.Errorf("early exit %v with reason %q, want an exit status and %q", early.status, early.reason, want)
	}
	if out.Len() != 0 {
		t.Errorf("the output of a start that exited first passed: %q", out.String())
	}
}

// Until the emulator listens its output is held: released, it passes as
// usual; a start that exited first gives the line that says why.
func TestLineWriterHolds(t *testing.T) {
	in := "30 Nov 2026 00:01:31,265 [INFO] (rapid) exec './bootstrap'\n" +
		"30 Nov 2026 00:01:31,278 [PANIC] (rapid) listen tcp 127.0.0.1:41621: bind: address already in use\n" +
		"panic: (*logrus.Entry) 0x3c66091b4930\n"
	var out, tap strings.Builder
	lw := &lineWriter{w: &out, tap: &tap, hold: true}
	_, _ = lw.Write([]byte(in))
	if out.Len() != 0 || tap.String() != in {
		t.Fatalf("held output passed (%q) or the tap missed it (%q)", out.String(), tap.String())
	}
	if got, want := lw.reason(), "30 Nov 2026 00:01:31,278 [PANIC] (rapid) listen tcp 127.0.0.1:41621: bind: address already in use"; got != want {
		t.Errorf("reason %q, want %q", got, want)
	}
	lw.release()
	_, _ = lw.Write([]byte("{\"msg\":\"after\"}\n"))
	if want := "30 Nov 2026 00:01:31,278 [PANIC] (rapid) listen tcp 127.0.0.1:41621: bind: address already in use\npanic: (*logrus.Entry) 0x3c66091b4930\n{\"msg\":\"after\"}\n"; out.String() != want {
		t.Errorf("released output %q, want %q", out.String(), want)
	}
	if got := (&lineWriter{hold: true}).reason(); got != "" {
		t.Errorf("reason with no output %q", got)
	}
	quiet := &lineWriter{w: &out, hold: true}
	_, _ = quiet.Write([]byte("last words sk_test_AbC123xyz\n"))
	if got := quiet.reason(); got != "last words [REDACTED]" {
		t.Errorf("reason without an error line %q, want the last line, redacted", got)
	}
	full := &lineWriter{w: &out, hold: true}
	out.Reset()
	for i := range maxHeld + 1 {
		_, _ = fmt.Fprintf(full, "line %d\n", i)
	}
	if n := strings.Count(out.String(), "\n"); n != maxHeld+1 {
		t.Errorf("%d lines passed once more than maxHeld came, want all %d", n, maxHeld+1)
	}
}
