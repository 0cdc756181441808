package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// runSecretsLoad creates -keys keys through the key service (what the create
// function runs) with -c at once, then resets each once, on the secret store
// SECRET_STORE names, in a fresh table, and reports keys per second and
// p50/p99 of each. A third pass of creates is cut off halfway (its context
// cancelled), and the table and the store are then checked against each
// other: every key record's secret reads, and every secret left in the
// store belongs to a key.
func runSecretsLoad(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secrets-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("keys", 10000, "keys to create, then reset")
	conc := fs.Int("c", 16, "operations at once")
	cutAt := fs.Int("cut", 0, "the cut-off pass: creates that finish before the cut, of twice as many started (0: half of -keys)")
	runDir := fs.String("stack-run", "", "the local stack's run folder (infra/.cache/run): report its services' CPU time per operation")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *cutAt == 0 {
		*cutAt = *n / 2
	}
	if *n < 2 || *conc < 1 || *cutAt < 1 {
		fmt.Fprintln(stderr, "secrets-load: -keys must be at least 2, -c and -cut positive")
		return 2
	}
	ctx := context.Background()
	table := fmt.Sprintf("paykeys-secrets-load-%d", time.Now().UnixNano())
	env := localGetenv(getenv)
	cfg, err := config.Load(func(name string) string {
		switch name {
		case "TABLE_NAME":
			return table
		case "SECRET_PREFIX":
			return table + "/"
		case "KEK_SECRET_NAME":
			return table + "-kek"
		case "WEBHOOK_KEK_SECRET_NAME":
			return table + "-webhooks-kek"
		case "LOG_LEVEL":
			return "error"
		case "MAX_KEYS_PER_MERCHANT":
			return "1000000"
		}
		return env(name)
	})
	if err != nil {
		fmt.Fprintln(stderr, "secrets-load: configuration:", err)
		return 1
	}
	if cfg.DynamoDBEndpoint == "" || cfg.SecretsManagerEndpoint == "" {
		fmt.Fprintln(stderr, "secrets-load: DYNAMODB_ENDPOINT and SECRETSMANAGER_ENDPOINT must name the local stack (make secrets-load)")
		return 2
	}
	a, err := app.New(ctx, cfg, io.Discard)
	if err != nil {
		fmt.Fprintln(stderr, "secrets-load:", err)
		return 1
	}
	defer func() { _ = a.Close(ctx) }()
	if err := store.CreateTable(ctx, a.Dynamo, table); err != nil {
		fmt.Fprintln(stderr, "secrets-load:", err)
		return 1
	}
	defer func() { _, _ = a.Dynamo.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: &table}) }()

	// Many merchants, as onboarding would be; each op its own actor.
	actor := func(i int) key.Actor {
		return key.Actor{Subject: "load", MerchantID: fmt.Sprintf("m_load_%d", i%100), Role: "admin"}
	}
	params := key.NewParams{Name: "bulk", Environment: key.EnvTest, Scopes: []string{"payments:read"}}
	cpu := stackCPU(*runDir)
	pass := func(ctx context.Context, name string, n int, op func(context.Context, int) error) loadStats {
		before := cpu.read()
		st := loadPass(ctx, name, n, *conc, stderr, op)
		st.StackCPUMSPerOp = cpu.perOp(before, st.OK+st.Failed)
		return st
	}
	var mu sync.Mutex
	type made struct {
		id string
		i  int
	}
	keys := make([]made, 0, *n)
	creates := pass(ctx, "create", *n, func(ctx context.Context, i int) error {
		c, err := a.Keys.Create(ctx, actor(i), params, nil)
		if err == nil {
			mu.Lock()
			keys = append(keys, made{c.Key.ID, i})
			mu.Unlock()
		}
		return err
	})
	resets := pass(ctx, "reset", len(keys), func(ctx context.Context, i int) error {
		_, err := a.Keys.Reset(ctx, actor(keys[i].i), keys[i].id, 0)
		return err
	})
	// Cut off halfway: cancel once half of another 2*cut creates are done.
	cut, cancel := context.WithCancel(ctx)
	var done atomic.Int64
	cutoff := pass(cut, "cut-off create", 2**cutAt, func(ctx context.Context, i int) error {
		_, err := a.Keys.Create(ctx, actor(i), params, nil)
		if err == nil && done.Add(1) == int64(*cutAt) {
			cancel()
		}
		return err
	})
	cancel()
	half, err := checkSecrets(ctx, a, *conc)
	if err != nil {
		fmt.Fprintln(stderr, "secrets-load:", err)
		return 1
	}
	// The report first: a clean-up that fails loses nothing measured.
	report := map[string]any{
		"secret_store": cfg.SecretStore, "keys": *n, "concurrency": *conc, "cut_after": *cutAt,
		"create": creates, "reset": resets, "cut_off_create": cutoff, "after_cut_off": half,
	}
	out, _ := json.MarshalIndent(report, "", "  ")
	fmt.Fprintln(stdout, string(out))
	code := 0
	if creates.Failed > 0 || resets.Failed > 0 || half.HalfMade > 0 {
		code = 1
	}
	if cfg.SecretStore == config.SecretStoreSecretsManager {
		// The table goes with the run; the run's secrets in Secrets
		// Manager would stay, and slow every later listing there.
		if err := deleteSecrets(ctx, a, half.names, *conc); err != nil {
			fmt.Fprintln(stderr, "secrets-load:", err)
			code = 1
		}
	}
	return code
}

// loadStats is one pass's throughput and latency.
type loadStats struct {
	OK        int     `json:"ok"`
	Failed    int     `json:"failed"`
	PerSecond float64 `json:"per_second"`
	P50MS     float64 `json:"p50_ms"`
	P99MS     float64 `json:"p99_ms"`
	Seconds   float64 `json:"seconds"`
	// FirstError is the first failure's message (never a secret).
	FirstError string `json:"first_error,omitempty"`
	// StackCPUMSPerOp is the CPU time each local service (dynamodb, moto)
	// spent per operation of the pass: where the time goes (-stack-run).
	StackCPUMSPerOp map[string]float64 `json:"stack_cpu_ms_per_op,omitempty"`
}

// loadPass runs op(0..n-1) with conc at once until n are done or ctx ends,
// and prints a progress line to progress every 30 seconds.
func loadPass(ctx context.Context, name string, n, conc int, progress io.Writer, op func(context.Context, int) error) loadStats {
	var mu sync.Mutex
	lat := make([]time.Duration, 0, n)
	failed, first := 0, ""
	next := atomic.Int64{}
	start := time.Now()
	tick := time.NewTicker(30 * time.Second)
	defer tick.Stop()
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				mu.Lock()
				so := slices.Sorted(slices.Values(lat))
				f := failed
				mu.Unlock()
				p50, p99 := percentiles(so)
				fmt.Fprintf(progress, "secrets-load: %s: %d of %d done, %d failed, %.1f/s, p50 %.0f ms, p99 %.0f ms\n",
					name, len(so), n, f, float64(len(so))/time.Since(start).Seconds(), p50, p99)
			}
		}
	}()
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := op(ctx, i)
				d := time.Since(t)
				mu.Lock()
				if err != nil {
					failed++
					if first == "" {
						first = err.Error()
					}
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	el := time.Since(start)
	slices.Sort(lat)
	st := loadStats{OK: len(lat), Failed: failed, FirstError: first, Seconds: el.Seconds(), PerSecond: float64(len(lat)) / el.Seconds()}
	st.P50MS, st.P99MS = percentiles(lat)
	return st
}

// percentiles returns the p50 and p99 of sorted latencies, in milliseconds.
func percentiles(sorted []time.Duration) (float64, float64) {
	if len(sorted) == 0 {
		return 0, 0
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return ms(sorted[len(sorted)/2]), ms(sorted[len(sorted)*99/100])
}

// stackCPU reads the CPU time of the local stack's services from /proc,
// by the process IDs stack.sh records in its run folder. Without a folder,
// or off Linux, it reads nothing and perOp reports nothing.
type stackCPU string

var stackServices = []string{"dynamodb", "moto"}

// read returns each service's CPU time so far (user and system).
func (dir stackCPU) read() map[string]time.Duration {
	out := map[string]time.Duration{}
	if dir == "" {
		return out
	}
	for _, svc := range stackServices {
		pid, err := os.ReadFile(filepath.Join(string(dir), svc+".pid"))
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(pid)), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command's closing parenthesis: state is the
		// first, utime and stime the 12th and 13th (proc(5)), in clock
		// ticks of 1/100 s.
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(f) < 13 {
			continue
		}
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		out[svc] = time.Duration(u+s) * 10 * time.Millisecond
	}
	return out
}

func (dir stackCPU) perOp(before map[string]time.Duration, ops int) map[string]float64 {
	if dir == "" || ops == 0 {
		return nil
	}
	out := map[string]float64{}
	for svc, d := range dir.read() {
		if b, ok := before[svc]; ok {
			out[svc] = math.Round(float64((d-b).Microseconds())/float64(ops)) / 1000
		}
	}
	return out
}

// cutOffCheck is the table and the secret store compared after the cut.
type cutOffCheck struct {
	Keys     int `json:"key_records"`
	Secrets  int `json:"secrets"`
	HalfMade int `json:"half_made"`      // a key record whose secret does not read
	Orphans  int `json:"orphan_secrets"` // a secret no key record names

	names []string // every secret listed
}

// checkSecrets lists every secret in the store and reads every key's
// current secret, conc at once: a key without its secret is half made; a
// secret without a key is an orphan, which a failed create deletes (or
// leaves to the lifecycle job's sweep) but which no one can use.
func checkSecrets(ctx context.Context, a *app.App, conc int) (cutOffCheck, error) {
	var ch cutOffCheck
	names := map[string]bool{}
	cursor := ""
	for {
		page, next, err := a.Secrets.List(ctx, cursor, 100)
		if err != nil {
			return ch, err
		}
		for _, n := range page {
			names[n] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	ch.Secrets = len(names)
	ch.names = slices.Sorted(maps.Keys(names))
	var mu sync.Mutex
	var firstErr error
	loadPass(ctx, "check", 100, min(conc, 100), io.Discard, func(ctx context.Context, m int) error {
		f := key.ListFilter{Limit: 100}
		for {
			ks, next, err := a.Store.ListKeys(ctx, fmt.Sprintf("m_load_%d", m), f)
			if err != nil {
				mu.Lock()
				firstErr = cmp.Or(firstErr, err)
				mu.Unlock()
				return err
			}
			for _, k := range ks {
				_, err := a.Secrets.Get(ctx, k.ID, k.SecretVersionID)
				mu.Lock()
				ch.Keys++
				if err != nil {
					ch.HalfMade++
				}
				delete(names, k.ID)
				mu.Unlock()
			}
			if next == "" {
				return nil
			}
			f.Cursor = next
		}
	})
	ch.Orphans = len(names)
	return ch, firstErr
}

// deleteSecrets deletes the run's secrets, conc at once.
func deleteSecrets(ctx context.Context, a *app.App, names []string, conc int) error {
	st := loadPass(ctx, "clean-up", len(names), conc, io.Discard, func(ctx context.Context, i int) error {
		return a.Secrets.Delete(ctx, names[i])
	})
	if st.Failed > 0 {
		return fmt.Errorf("clean-up: %d secrets not deleted: %s", st.Failed, st.FirstError)
	}
	return nil
}
