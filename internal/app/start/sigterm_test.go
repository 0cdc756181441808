package start

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/config"
)

// runtimeAPI is a fake of Lambda's extensions API: it answers the
// registration with status and records what it was asked.
type runtimeAPI struct {
	status     int
	registered chan *http.Request // the registration, its body read into body
	body       chan string
	waiting    chan string // the identifier of a request for the next event
}

// sigtermRuns sends this process SIGTERM and waits for the callback to
// close ran.
func sigtermRuns(t *testing.T, ran <-chan struct{}) {
	t.Helper()
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGTERM did not run the callback")
	}
}

func newRuntimeAPI(status int) *runtimeAPI {
	return &runtimeAPI{status: status, registered: make(chan *http.Request, 1), body: make(chan string, 1), waiting: make(chan string, 1)}
}

func (f *runtimeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method + " " + r.URL.Path {
	case "POST /2020-01-01/extension/register":
		b, _ := io.ReadAll(r.Body)
		f.registered <- r
		f.body <- string(b)
		w.Header().Set("Lambda-Extension-Identifier", "ext-1")
		w.WriteHeader(f.status)
		_, _ = w.Write([]byte(`{"functionName":"f"}`))
	case "GET /2020-01-01/extension/event/next":
		f.waiting <- r.Header.Get("Lambda-Extension-Identifier")
		<-r.Context().Done() // subscribed to no event: never answered
	default:
		http.NotFound(w, r)
	}
}

// The function registers an extension subscribed to no event, then waits
// for its next event on the identifier Lambda gave, and runs its callback
// on SIGTERM.
func TestEnableSIGTERMRegistersAndRunsTheCallback(t *testing.T) {
	api := newRuntimeAPI(200)
	srv := httptest.NewServer(api)
	defer srv.Close()
	defer srv.CloseClientConnections() // the request for an event never ends
	defer signal.Reset(syscall.SIGTERM)
	ran := make(chan struct{})
	if err := enableSIGTERM(strings.TrimPrefix(srv.URL, "http://"), func() { close(ran) }, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	r := <-api.registered
	if name := r.Header.Get("Lambda-Extension-Name"); name != extensionName {
		t.Errorf("extension name %q, want %q", name, extensionName)
	}
	if body := <-api.body; body != `{"events":null}` {
		t.Errorf("registration body %s, want no event", body)
	}
	select {
	case id := <-api.waiting:
		if id != "ext-1" {
			t.Errorf("waits for events as %q, want ext-1", id)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the extension never asked for its next event")
	}
	select {
	case <-ran:
		t.Fatal("the callback ran before SIGTERM")
	default:
	}
	sigtermRuns(t, ran)
}

// A refused registration is an error; outside Lambda (no runtime API) there
// is nothing to register.
func TestEnableSIGTERMErrors(t *testing.T) {
	defer signal.Reset(syscall.SIGTERM)
	api := newRuntimeAPI(403)
	srv := httptest.NewServer(api)
	defer srv.Close()
	if err := enableSIGTERM(strings.TrimPrefix(srv.URL, "http://"), func() {}, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), "status 403") {
		t.Errorf("refused registration: error %v, want one naming status 403", err)
	}
	if err := enableSIGTERM("", func() {}, slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("no runtime API: %v", err)
	}
	if err := enableSIGTERM("127.0.0.1:1", func() {}, slog.New(slog.DiscardHandler)); err == nil {
		t.Error("no error when nothing listens at the runtime API")
	}
}

// A flushing function registers the extension while it is built: the
// registration reaches the runtime API before the build ends, the builder
// returns only once it is done, and SIGTERM runs the callback the build
// returned. A refused registration leaves a function that serves, and says
// so; a failed build is the builder's error.
func TestWithSIGTERMRegistersWhileTheFunctionIsBuilt(t *testing.T) {
	defer signal.Reset(syscall.SIGTERM)
	tests := []struct {
		name     string
		status   int
		buildErr error
		warns    bool
	}{
		{"registered", 200, nil, false},
		{"refused", 403, nil, true},
		{"build fails", 200, errors.New("no table"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := newRuntimeAPI(tt.status)
			srv := httptest.NewServer(api)
			defer srv.Close()
			defer srv.CloseClientConnections()
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			ran := make(chan struct{})
			build := withSIGTERM(strings.TrimPrefix(srv.URL, "http://"), log, func(context.Context, config.Config, *slog.Logger) (string, func(), error) {
				select {
				case <-api.registered:
				case <-time.After(5 * time.Second):
					t.Error("the registration did not reach the runtime API while the function was built")
				}
				return "handler", func() { close(ran) }, tt.buildErr
			})
			h, err := build(context.Background(), config.Config{}, log)
			if !errors.Is(err, tt.buildErr) || (err == nil && h != "handler") {
				t.Fatalf("build = %q, %v; want the builder's handler and error %v", h, err, tt.buildErr)
			}
			if warned := strings.Contains(logs.String(), "SIGTERM is not enabled"); warned != tt.warns {
				t.Errorf("warned %v, want %v; log:\n%s", warned, tt.warns, logs.String())
			}
			if tt.status != 200 || tt.buildErr != nil {
				return
			}
			sigtermRuns(t, ran)
		})
	}
}
