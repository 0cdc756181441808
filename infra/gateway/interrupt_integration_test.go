//go:build integration

package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/testenv"
)

// Ctrl-C on make dev: the terminal sends SIGINT to the whole foreground
// process group, here with-stack.sh and what it runs. A gateway that shuts
// down cleanly makes with-stack.sh exit 0; a command that dies of the signal
// makes it exit 130. Nothing of the group is left either way. (The stack was
// up before, as under make test, so with-stack.sh leaves it running.)
func TestWithStackInterrupt(t *testing.T) {
	testenv.Dynamo(t) // fails, not skips, without the local stack
	// Handling SIGINT here makes the children start with its default
	// disposition, as a terminal's foreground job does, even when this test
	// runs with SIGINT ignored (a background job).
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt)
	defer signal.Stop(sigs)

	gateway := filepath.Join(t.TempDir(), "gateway")
	if out, err := exec.Command("go", "build", "-o", gateway, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	tests := []struct {
		name     string
		command  []string
		ready    func(port int) bool
		wantCode int
	}{
		{
			name:    "gateway shuts down cleanly",
			command: []string{gateway},
			ready: func(port int) bool {
				res, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
				if err != nil {
					return false
				}
				res.Body.Close()
				return res.StatusCode == http.StatusOK
			},
			wantCode: 0,
		},
		{
			name:     "a command killed by the signal",
			command:  []string{"sleep", "60"},
			ready:    func(int) bool { time.Sleep(2 * time.Second); return true },
			wantCode: 130,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			port := freePort(t)
			cmd := exec.Command("../localstack/with-stack.sh", tt.command...)
			cmd.Env = append(os.Environ(),
				"PORT="+strconv.Itoa(port),
				"TEMPLATE=../../template.yaml",
				"TABLE_NAME="+testenv.UniqueName(t, "int"),
				"SECRET_PREFIX="+testenv.UniqueName(t, "int")+"/", // its lifecycle runs sweep under it
				"LOG_LEVEL=warn",
			)
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pgid := cmd.Process.Pid
			t.Cleanup(func() { _ = syscall.Kill(-pgid, syscall.SIGKILL) })
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()

			deadline := time.Now().Add(2 * time.Minute)
			for !tt.ready(port) {
				select {
				case err := <-done:
					t.Fatalf("exited before it was ready: %v", err)
				default:
				}
				if time.Now().After(deadline) {
					t.Fatal("not ready within 2 minutes")
				}
				time.Sleep(200 * time.Millisecond)
			}

			if err := syscall.Kill(-pgid, syscall.SIGINT); err != nil {
				t.Fatal(err)
			}
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("still running a minute after SIGINT")
			}
			code := 0
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				code = exit.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d", code, tt.wantCode)
			}
			// The group is empty: no gateway, no sleep left behind.
			time.Sleep(200 * time.Millisecond)
			if err := syscall.Kill(-pgid, 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("process group %d still has members (kill 0: %v)", pgid, err)
			}
			if c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second); err == nil {
				c.Close()
				t.Errorf("something still listens on port %d", port)
			}
		})
	}
	select {
	case <-sigs:
		t.Error("the test process itself got SIGINT")
	default:
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
