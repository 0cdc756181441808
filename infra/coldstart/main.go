// Command coldstart measures every Lambda function's bootstrap beside a
// hello-world aws-lambda-go bootstrap (the floor, ./infra/coldstart/hello),
// all built the way SAM builds them but for the host's architecture, and run
// under the Lambda Runtime Interface Emulator: binary size, and over several
// fresh starts the time from starting the emulator to the first response,
// the emulator's Init Duration, a warm invocation's latency and the
// bootstrap's resident memory. `make coldstart` runs it against the local
// stack (see the README's Performance section).
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/paykeys/paykeys/internal/testenv"
)

// events is the sample event each function is invoked with: one that
// changes nothing, where the function has one.
var events = map[string]string{
	"hello":     "events/authorize/http-bearer.json",
	"authorize": "events/authorize/http-bearer.json",
	"create":    "events/create/create.json",
	"keys":      "events/keys/list.json",
	"reset":     "events/reset/reset.json",
	"verify":    "events/verify/verify-key.json",
	"webhooks":  "events/webhooks/list.json",
	"webhook":   "events/webhook/sweep.json",
	"rotate":    "events/rotate/scheduled.json",
	"demo":      "events/demo/charge.json",
}

// functionEnv is what every function gets besides the caller's environment
// (the local stack's endpoints and credentials): the template's settings.
var functionEnv = []string{
	"TABLE_NAME=paykeys-coldstart",
	"SECRET_PREFIX=paykeys-coldstart/",
	"ENVIRONMENT=test",
	"LOG_LEVEL=warn",
	"ROUTE_SCOPES=GET /demo/{proxy+}=payments:read;HEAD /demo/{proxy+}=payments:read;ANY /demo/{proxy+}=payments:write",
}

var initDuration = regexp.MustCompile(`Init Duration: ([0-9.]+) ms`)

func main() {
	var (
		runs     = flag.Int("runs", 7, "fresh starts per function")
		warm     = flag.Int("warm", 10, "warm invocations after each first one")
		addr     = flag.String("addr", "127.0.0.1:9001", "the emulator's invoke address")
		api      = flag.String("runtime-api", "127.0.0.1:9002", "the emulator's runtime API address")
		own      = flag.String("own-api", "127.0.0.1:9003", "address of this program's own runtime API, which times init")
		rie      = flag.String("rie", "", "the emulator (default: the one in the SAM CLI under infra/.cache/venv)")
		fns      = flag.String("functions", "authorize,verify,create,keys,reset,webhooks,webhook,rotate,demo", "functions to measure")
		keep     = flag.String("bin", "", "build into this folder (default: a temporary one, removed)")
		verbose  = flag.Bool("v", false, "print each start's numbers and each function's first response")
		perStart = flag.Duration("timeout", 20*time.Second, "longest wait for one start's first response")
		base     = flag.String("base", "", "also build every function at this git commit and measure it as <name>@base, in the same round robin")
	)
	flag.Parse()
	if err := run(config{
		runs: *runs, warm: *warm, addr: *addr, api: *api, own: *own, rie: *rie, bin: *keep, verbose: *verbose,
		timeout: *perStart, base: *base, functions: withBase(*base, strings.Split(*fns, ",")),
	}); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

type config struct {
	runs, warm          int
	addr, api, own, rie string
	bin                 string
	verbose             bool
	timeout             time.Duration
	functions           []string
	base                string // a git commit, or ""
}

// baseSuffix marks a function built at the -base commit.
const baseSuffix = "@base"

// withBase lists the floor, then each function, preceded by its build at
// the base commit when there is one.
func withBase(base string, fns []string) []string {
	out := []string{"hello"}
	for _, fn := range fns {
		if base != "" {
			out = append(out, fn+baseSuffix)
		}
		out = append(out, fn)
	}
	return out
}

// sample is one fresh start.
type sample struct {
	first, init, warm time.Duration
	// toNext is the time from starting the bootstrap to its first request
	// for an event: the whole init, as Lambda counts it.
	toNext time.Duration
	rss    int64 // bytes
}

func run(c config) error {
	if c.rie == "" {
		arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
		m, _ := filepath.Glob("infra/.cache/venv/lib/python3*/site-packages/samcli/local/rapid/aws-lambda-rie-" + arch)
		if len(m) == 0 {
			return errors.New("no Runtime Interface Emulator under infra/.cache/venv (make tools), or pass -rie")
		}
		c.rie = m[0]
	}
	var err error
	if c.rie, err = filepath.Abs(c.rie); err != nil {
		return err
	}
	if c.bin == "" {
		dir, err := os.MkdirTemp("", "coldstart")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		c.bin = dir
	}
	var baseTree string
	if c.base != "" {
		baseTree = filepath.Join(c.bin, "base-source")
		if err := git("worktree", "add", "--detach", baseTree, c.base); err != nil {
			return fmt.Errorf("check out %s: %w", c.base, err)
		}
		defer func() { _ = git("worktree", "remove", "--force", baseTree) }()
	}
	sizes := map[string]int64{}
	payloads := map[string][]byte{}
	for _, fn := range c.functions {
		name, atBase := strings.CutSuffix(fn, baseSuffix)
		src := "./functions/" + name
		if fn == "hello" {
			src = "./infra/coldstart/hello"
		}
		out, err := filepath.Abs(filepath.Join(c.bin, fn, "bootstrap"))
		if err != nil {
			return err
		}
		cmd := exec.Command("go", "build", "-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w", "-o", out, src)
		if atBase {
			cmd.Dir = baseTree
		}
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("build %s: %w", fn, err)
		}
		st, err := os.Stat(out)
		if err != nil {
			return err
		}
		sizes[fn] = st.Size()
		ev, ok := events[name]
		if !ok {
			return fmt.Errorf("no sample event for %s", fn)
		}
		if payloads[fn], err = os.ReadFile(ev); err != nil {
			return err
		}
	}
	if err := prepare(); err != nil {
		return err
	}
	env := append(os.Environ(), functionEnv...)
	samples := map[string][]sample{}
	// Round robin, so that whatever else the machine does spreads over all.
	for i := range c.runs {
		for _, fn := range c.functions {
			s, resp, err := c.start(filepath.Join(c.bin, fn), payloads[fn], env)
			if err != nil {
				return fmt.Errorf("%s: %w", fn, err)
			}
			if s.toNext, err = c.timeInit(filepath.Join(c.bin, fn), env); err != nil {
				return fmt.Errorf("%s: %w", fn, err)
			}
			if c.verbose {
				if i == 0 {
					fmt.Fprintf(os.Stderr, "%s first response: %.300s\n", fn, resp)
				}
				fmt.Fprintf(os.Stderr, "%s #%d: first %v init %v to /next %v warm %v rss %d KiB\n", fn, i+1, s.first, s.init, s.toNext, s.warm, s.rss>>10)
			}
			samples[fn] = append(samples[fn], s)
		}
	}
	report(os.Stdout, c, sizes, samples)
	return nil
}

// git runs a git command in the current directory.
func git(args ...string) error {
	cmd := exec.Command("git", args...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	return cmd.Run()
}

// prepare creates the measurement's table in DynamoDB Local, when the local
// stack is configured, so that the functions' reads find a table.
func prepare() error {
	if os.Getenv("DYNAMODB_ENDPOINT") == "" {
		fmt.Fprintln(os.Stderr, "coldstart: DYNAMODB_ENDPOINT is not set: functions that read the table answer with errors (run make coldstart)")
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return createTable(ctx, strings.TrimPrefix(functionEnv[0], "TABLE_NAME="))
}

// start runs one fresh emulator with the function's bootstrap, invokes it
// once cold and c.warm times warm, and stops it.
func (c config) start(dir string, payload []byte, env []string) (sample, []byte, error) {
	var s sample
	var logs testenv.LogBuffer
	cmd := exec.Command(c.rie, "--runtime-interface-emulator-address", c.addr, "--runtime-api-address", c.api, "./bootstrap")
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return s, nil, err
	}
	defer stop(cmd)
	url := "http://" + c.addr + "/2015-03-31/functions/function/invocations"
	client := &http.Client{Timeout: c.timeout}
	var first []byte
	for {
		resp, err := invoke(client, url, payload)
		if err == nil {
			first = resp
			break
		}
		if time.Since(begin) > c.timeout {
			return s, nil, fmt.Errorf("no response within %v: %w\n%s", c.timeout, err, logs.String())
		}
		time.Sleep(time.Millisecond)
	}
	s.first = time.Since(begin)
	var lat []time.Duration
	for range c.warm {
		t := time.Now()
		if _, err := invoke(client, url, payload); err != nil {
			return s, nil, fmt.Errorf("warm invocation: %w", err)
		}
		lat = append(lat, time.Since(t))
	}
	if len(lat) > 0 {
		s.warm = median(lat)
	}
	s.rss = rss(cmd.Process.Pid)
	// The REPORT line follows the response; give the emulator a moment.
	deadline := time.Now().Add(2 * time.Second)
	for {
		if m := initDuration.FindStringSubmatch(logs.String()); m != nil {
			ms, _ := strconv.ParseFloat(m[1], 64)
			s.init = time.Duration(ms * float64(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			return s, nil, fmt.Errorf("no Init Duration in the emulator's log:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	return s, first, nil
}

// timeInit starts the bootstrap against this program's own runtime API and
// returns how long it took to ask for its first event. It answers the
// registration of the extension that makes Lambda send SIGTERM (the
// functions that flush at shutdown make it, see internal/app/start), as
// Lambda does.
func (c config) timeInit(dir string, env []string) (time.Duration, error) {
	ln, err := net.Listen("tcp", c.own)
	if err != nil {
		return 0, err
	}
	asked := make(chan time.Time, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2018-06-01/runtime/invocation/next", func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- time.Now():
		default:
		}
		<-r.Context().Done()
	})
	mux.HandleFunc("POST /2020-01-01/extension/register", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Lambda-Extension-Identifier", "coldstart")
		_, _ = w.Write([]byte(`{}`))
	})
	mux.HandleFunc("GET /2020-01-01/extension/event/next", func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	var logs testenv.LogBuffer
	cmd := exec.Command(filepath.Join(dir, "bootstrap"))
	cmd.Dir = dir
	cmd.Env = append(slices.Clone(env), "AWS_LAMBDA_RUNTIME_API="+c.own, "AWS_LAMBDA_FUNCTION_NAME=coldstart",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128", "AWS_LAMBDA_FUNCTION_VERSION=$LATEST")
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	begin := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer stop(cmd)
	select {
	case t := <-asked:
		return t.Sub(begin), nil
	case <-time.After(c.timeout):
		return 0, fmt.Errorf("no request for an event within %v:\n%s", c.timeout, logs.String())
	}
}

// invoke posts one event and returns the function's response; an answer
// that is not 200 is an error (the emulator not ready yet, or a crash).
func invoke(client *http.Client, url string, payload []byte) ([]byte, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, body)
	}
	return body, nil
}

// stop ends the emulator and the bootstrap it started, and waits for them.
func stop(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Wait()
}

// rss is the resident memory of the emulator's child (the bootstrap), or 0.
func rss(riePID int) int64 {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", riePID))
	for _, t := range tasks {
		b, _ := os.ReadFile(t)
		for _, f := range strings.Fields(string(b)) {
			if n := vmRSS(f); n > 0 {
				return n
			}
		}
	}
	return 0
}

func vmRSS(pid string) int64 {
	f, err := os.Open("/proc/" + pid + "/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func report(w io.Writer, c config, sizes map[string]int64, samples map[string][]sample) {
	pick := func(fn string, f func(sample) time.Duration) (time.Duration, time.Duration) {
		var d []time.Duration
		for _, s := range samples[fn] {
			d = append(d, f(s))
		}
		return slices.Min(d), median(d)
	}
	firstOf := func(s sample) time.Duration { return s.first }
	initOf := func(s sample) time.Duration { return s.init }
	warmOf := func(s sample) time.Duration { return s.warm }
	rssOf := func(s sample) time.Duration { return time.Duration(s.rss) }
	nextOf := func(s sample) time.Duration { return s.toNext }
	_, floorFirst := pick("hello", firstOf)
	_, floorNext := pick("hello", nextOf)
	fmt.Fprintf(w, "%d fresh starts per function, %d warm invocations each; %s/%s, %s\n",
		c.runs, c.warm, runtime.GOOS, runtime.GOARCH, runtime.Version())
	if c.base != "" {
		fmt.Fprintf(w, "<name>%s: the function built at %s\n", baseSuffix, c.base)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tsize MB\t× floor\tinit ms min / med\t× floor\tfirst response ms min / med\t× floor\temulator's Init Duration ms\twarm ms min / med\tRSS MB min / med\t")
	for _, fn := range c.functions {
		fMin, fMed := pick(fn, firstOf)
		iMin, iMed := pick(fn, initOf)
		nMin, nMed := pick(fn, nextOf)
		wMin, wMed := pick(fn, warmOf)
		rMin, rMed := pick(fn, rssOf)
		name := fn
		if fn == "hello" {
			name = "hello (floor)"
		}
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%s / %s\t%.2f\t%s / %s\t%.2f\t%s / %s\t%s / %s\t%.1f / %.1f\t\n", name,
			float64(sizes[fn])/1e6, float64(sizes[fn])/float64(sizes["hello"]),
			ms(nMin), ms(nMed), float64(nMed)/float64(floorNext),
			ms(fMin), ms(fMed), float64(fMed)/float64(floorFirst),
			ms(iMin), ms(iMed), ms(wMin), ms(wMed), float64(rMin)/1e6, float64(rMed)/1e6)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ninit: start of the bootstrap to its first request for an event, against this program's runtime API;")
	fmt.Fprintln(w, "first response: start of the emulator to the first invocation's answer (init, then the event's work,")
	fmt.Fprintln(w, "with its reads of the local stack); warm: median invocation after it; RSS: the bootstrap after them.")
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }
