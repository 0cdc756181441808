package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"
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
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 2 || *conc < 1 {
		fmt.Fprintln(stderr, "secrets-load: -keys must be at least 2, -c positive")
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
	var mu sync.Mutex
	type made struct {
		id string
		i  int
	}
	keys := make([]made, 0, *n)
	creates := loadPass(ctx, *n, *conc, func(ctx context.Context, i int) error {
		c, err := a.Keys.Create(ctx, actor(i), params, nil)
		if err == nil {
			mu.Lock()
			keys = append(keys, made{c.Key.ID, i})
			mu.Unlock()
		}
		return err
	})
	resets := loadPass(ctx, len(keys), *conc, func(ctx context.Context, i int) error {
		_, err := a.Keys.Reset(ctx, actor(keys[i].i), keys[i].id, 0)
		return err
	})
	// Cut off halfway: cancel once half of another n creates are done.
	cut, cancel := context.WithCancel(ctx)
	var done atomic.Int64
	cutoff := loadPass(cut, *n, *conc, func(ctx context.Context, i int) error {
		_, err := a.Keys.Create(ctx, actor(i), params, nil)
		if err == nil && done.Add(1) == int64(*n/2) {
			cancel()
		}
		return err
	})
	cancel()
	half, err := checkSecrets(ctx, a)
	if err != nil {
		fmt.Fprintln(stderr, "secrets-load:", err)
		return 1
	}
	report := map[string]any{
		"secret_store": cfg.SecretStore, "keys": *n, "concurrency": *conc,
		"create": creates, "reset": resets, "cut_off_create": cutoff, "after_cut_off": half,
	}
	out, _ := json.MarshalIndent(report, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if creates.Failed > 0 || resets.Failed > 0 || half.HalfMade > 0 {
		return 1
	}
	return 0
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
}

func loadPass(ctx context.Context, n, conc int, op func(context.Context, int) error) loadStats {
	var mu sync.Mutex
	var lat []time.Duration
	failed, first := 0, ""
	next := atomic.Int64{}
	start := time.Now()
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
	el := time.Since(start)
	slices.Sort(lat)
	st := loadStats{OK: len(lat), Failed: failed, FirstError: first, Seconds: el.Seconds(), PerSecond: float64(len(lat)) / el.Seconds()}
	if len(lat) > 0 {
		st.P50MS = float64(lat[len(lat)/2].Microseconds()) / 1000
		st.P99MS = float64(lat[len(lat)*99/100].Microseconds()) / 1000
	}
	return st
}

// cutOffCheck is the table and the secret store compared after the cut.
type cutOffCheck struct {
	Keys     int `json:"key_records"`
	Secrets  int `json:"secrets"`
	HalfMade int `json:"half_made"`      // a key record whose secret does not read
	Orphans  int `json:"orphan_secrets"` // a secret no key record names
}

// checkSecrets lists every secret in the store and reads every key's
// current secret: a key without its secret is half made; a secret without a
// key is an orphan, which a failed create deletes (or leaves to be cleaned
// up) but which no one can use.
func checkSecrets(ctx context.Context, a *app.App) (cutOffCheck, error) {
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
	for m := range 100 {
		f := store.ListFilter{Limit: 100}
		for {
			ks, next, err := a.Store.ListKeys(ctx, fmt.Sprintf("m_load_%d", m), f)
			if err != nil {
				return ch, err
			}
			for _, k := range ks {
				ch.Keys++
				if _, err := a.Secrets.Get(ctx, k.ID, k.SecretVersionID); err != nil {
					ch.HalfMade++
				}
				delete(names, k.ID)
			}
			if next == "" {
				break
			}
			f.Cursor = next
		}
	}
	ch.Orphans = len(names)
	return ch, nil
}
