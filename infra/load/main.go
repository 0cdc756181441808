// Command load measures a running local stack (make dev): the latency of the
// management API (create, reset, verify) and the authorizer's throughput and
// correctness on the protected /demo route, with a pool of real keys and a
// share of garbage ones. It talks only to the address given (by default
// make dev's, 127.0.0.1 on PORT), runs for a bounded time, and stops by
// itself.
//
//	go run ./infra/load -token "$(make -s token)" -keys 2000 -duration 20s
//	go run ./infra/load -token "$(make -s token)" -webhooks 100
//	go run ./infra/load -token "$(make -s token)" -changes 200
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// defaultURL is make dev's address: 127.0.0.1 on PORT, as the gateway
// listens, else on 3000.
func defaultURL(getenv func(string) string) string {
	port := strings.TrimSpace(getenv("PORT"))
	if port == "" {
		port = "3000"
	}
	return "http://127.0.0.1:" + port
}

type config struct {
	base        string
	token       string   // the first of tokens: the management run's merchant
	tokens      []string // one admin token per merchant the key pool is spread over
	keys        int
	ops         int
	duration    time.Duration
	concurrency int
	garbage     float64
	signed      float64
	zipf        float64 // 0: keys asked for evenly; above 1: Zipf's law with this exponent
	webhooks    int
	changes     int
	brand       key.Brand // of make dev's secrets, for well-formed unknown ones
}

func main() {
	var c config
	flag.StringVar(&c.base, "url", defaultURL(os.Getenv), "base URL of make dev (127.0.0.1 on PORT, as make dev listens)")
	flag.StringVar(&c.token, "token", "", "admin JWT (make -s token); several, comma-separated, of different merchants spread the key pool over them")
	flag.IntVar(&c.keys, "keys", 400, "keys in the pool for the authorizer run (at most 400 per merchant token)")
	flag.IntVar(&c.ops, "ops", 300, "operations of each kind for the management run")
	flag.DurationVar(&c.duration, "duration", 20*time.Second, "length of the authorizer run")
	flag.IntVar(&c.concurrency, "c", 16, "concurrent clients")
	flag.Float64Var(&c.garbage, "garbage", 0.05, "share of requests with garbage keys")
	flag.Float64Var(&c.signed, "signed", 0.2, "share of valid requests that are HMAC-signed")
	flag.Float64Var(&c.zipf, "zipf", 0, "key popularity: 0 asks for every key as often; s > 1 asks for the i-th key in proportion to i^-s")
	flag.IntVar(&c.webhooks, "webhooks", 0, "instead: measure webhook delivery latency over this many key creations")
	flag.IntVar(&c.changes, "changes", 0, "instead: measure how soon this many key changes take effect at /demo")
	flag.StringVar((*string)(&c.brand), "brand", string(key.DefaultBrand), "make dev's secret brand (BRAND)")
	flag.Parse()
	if c.token == "" {
		fmt.Fprintln(os.Stderr, "load: -token is required (make -s token)")
		os.Exit(2)
	}
	if c.zipf != 0 && c.zipf <= 1 {
		fmt.Fprintln(os.Stderr, "load: -zipf must be 0 (even) or above 1")
		os.Exit(2)
	}
	c.tokens = strings.Split(c.token, ",")
	c.token = c.tokens[0]
	// The management run's keys are the first merchant's too.
	if total := max(c.keys, c.ops); c.ops > perMerchant || total > perMerchant*len(c.tokens) {
		fmt.Fprintf(os.Stderr, "load: -keys %d and -ops %d need %d merchant tokens and -ops at most %d (a merchant holds at most %d keys here; the default limit is 500)\n",
			c.keys, c.ops, (total+perMerchant-1)/perMerchant, perMerchant, perMerchant)
		os.Exit(2)
	}
	run := run
	if c.webhooks > 0 {
		run = func(c config) error { return webhookLatency(c, c.webhooks) }
	}
	if c.changes > 0 {
		run = func(c config) error { return propagation(c, c.changes) }
	}
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// perMerchant is how many pool keys one merchant's token creates: under the
// default limit of 500 keys per merchant, with room for the management run.
const perMerchant = 400

var client = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

type issued struct{ ID, Secret string }

func run(c config) error {
	fmt.Printf("management API: %d of each operation, %d concurrent clients\n", c.ops, c.concurrency)
	pool := make([]issued, c.ops)
	create := measure(c.ops, c.concurrency, func(i int) error {
		var out struct {
			Key    struct{ ID string } `json:"key"`
			Secret string              `json:"secret"`
		}
		err := c.call("POST", "/v1/keys", `{"name":"load","environment":"test","scopes":["payments:read","payments:write"]}`, 201, &out)
		pool[i] = issued{out.Key.ID, out.Secret}
		return err
	})
	report("create", create)
	reset := measure(c.ops, c.concurrency, func(i int) error {
		var out struct{ Secret string }
		err := c.call("POST", "/v1/keys/"+pool[i].ID+"/reset", "", 200, &out)
		pool[i].Secret = out.Secret
		return err
	})
	report("reset", reset)
	verify := measure(c.ops, c.concurrency, func(i int) error {
		var out struct{ Valid bool }
		if err := c.call("POST", "/v1/keys/"+pool[i].ID+"/verify", fmt.Sprintf(`{"secret":%q}`, pool[i].Secret), 200, &out); err != nil {
			return err
		}
		if !out.Valid {
			return fmt.Errorf("lost write: the secret returned by reset does not verify")
		}
		return nil
	})
	report("verify", verify)
	// A create or reset that failed left no usable key: keep only the
	// working ones for the authorizer run.
	pool = slices.DeleteFunc(pool, func(k issued) bool { return k.ID == "" || k.Secret == "" })

	fmt.Printf("\nauthorizer: %d keys, %.0f%% garbage, %.0f%% of valid requests signed, %d clients, %s\n",
		c.keys, c.garbage*100, c.signed*100, c.concurrency, c.duration)
	for m := 0; len(pool) < c.keys; m++ {
		room := perMerchant
		if m == 0 {
			room -= len(pool)
		}
		more := make([]issued, min(room, c.keys-len(pool)))
		as := c
		as.token = c.tokens[m]
		if r := measure(len(more), c.concurrency, func(i int) error {
			var out struct {
				Key    struct{ ID string } `json:"key"`
				Secret string              `json:"secret"`
			}
			err := as.call("POST", "/v1/keys", `{"name":"load","environment":"test","scopes":["payments:read","payments:write"]}`, 201, &out)
			more[i] = issued{out.Key.ID, out.Secret}
			return err
		}); r.errors > 0 {
			return fmt.Errorf("creating the key pool: %v", r.firstErr)
		}
		pool = append(pool, more...)
	}
	return authorize(c, pool)
}

func authorize(c config, pool []issued) error {
	ctx, cancel := context.WithTimeout(context.Background(), c.duration)
	defer cancel()
	var (
		mu        sync.Mutex
		latencies []time.Duration
		total     atomic.Int64
		wrong     atomic.Int64
		failed    atomic.Int64
		byStatus  sync.Map
	)
	start := time.Now()
	var wg sync.WaitGroup
	for w := range c.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			pick := func() int { return rng.IntN(len(pool)) }
			if c.zipf > 1 {
				z := rand.NewZipf(rng, c.zipf, 1, uint64(len(pool)-1))
				pick = func() int { return int(z.Uint64()) }
			}
			var local []time.Duration
			for ctx.Err() == nil {
				req, want := c.demoRequest(rng, pool[pick()])
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
					}
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				local = append(local, time.Since(t0))
				total.Add(1)
				n, _ := byStatus.LoadOrStore(resp.StatusCode, new(atomic.Int64))
				n.(*atomic.Int64).Add(1)
				if resp.StatusCode != want {
					wrong.Add(1)
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	slices.Sort(latencies)
	fmt.Printf("  requests %d in %.1fs: %.0f req/s, p50 %s, p99 %s\n", total.Load(), elapsed.Seconds(),
		float64(total.Load())/elapsed.Seconds(), pct(latencies, 0.50), pct(latencies, 0.99))
	byStatus.Range(func(k, v any) bool {
		fmt.Printf("  status %d: %d\n", k, v.(*atomic.Int64).Load())
		return true
	})
	fmt.Printf("  wrong decisions: %d, transport errors: %d\n", wrong.Load(), failed.Load())
	if wrong.Load() > 0 || failed.Load() > 0 {
		return fmt.Errorf("%d wrong decisions, %d transport errors", wrong.Load(), failed.Load())
	}
	return nil
}

// demoRequest returns a request to the protected route and the status it must get.
func (c config) demoRequest(rng *rand.Rand, k issued) (*http.Request, int) {
	body := []byte(`{"amount":1000,"currency":"eur"}`)
	req, _ := http.NewRequest("POST", c.base+"/demo/charges?expand=customer", bytes.NewReader(body))
	if rng.Float64() < c.garbage {
		if rng.IntN(2) == 0 {
			req.Header.Set("X-API-Key", c.brand.NewSecret(key.NewClientID(key.EnvTest))) // well formed, unknown
		} else {
			req.Header.Set("X-API-Key", string(c.brand)+"_sk_test_garbage") // malformed
		}
		return req, 401
	}
	if rng.Float64() < c.signed {
		if err := signature.SignRequest(req, k.ID, k.Secret, body, time.Now()); err != nil {
			panic(err)
		}
		return req, 200
	}
	req.Header.Set("Authorization", "Bearer "+k.Secret)
	return req, 200
}

type result struct {
	latencies []time.Duration
	errors    int
	firstErr  error
	elapsed   time.Duration
}

// measure runs n operations on concurrency workers and collects latencies.
func measure(n, concurrency int, op func(i int) error) result {
	var mu sync.Mutex
	r := result{}
	next := atomic.Int64{}
	start := time.Now()
	var wg sync.WaitGroup
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				t0 := time.Now()
				err := op(i)
				d := time.Since(t0)
				mu.Lock()
				r.latencies = append(r.latencies, d)
				if err != nil {
					if r.errors == 0 {
						r.firstErr = err
					}
					r.errors++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	slices.Sort(r.latencies)
	return r
}

func report(name string, r result) {
	fmt.Printf("  %-7s n=%d  p50 %-9s p99 %-9s %.0f op/s  errors %d\n", name, len(r.latencies),
		pct(r.latencies, 0.50), pct(r.latencies, 0.99), float64(len(r.latencies))/r.elapsed.Seconds(), r.errors)
	if r.firstErr != nil {
		fmt.Printf("          first error: %v\n", r.firstErr)
	}
}

func pct(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*p))].Round(10 * time.Microsecond)
}

func (c config) call(method, path, body string, want int, out any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewBufferString(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return json.Unmarshal(data, out)
}
