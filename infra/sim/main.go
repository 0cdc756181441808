// Command sim predicts how the authorizer's caches and the change feed behave
// as traffic grows: the cache hit rate, DynamoDB and Secrets Manager reads a
// second, change-feed reads, and the first DynamoDB partition or account
// quota that would throttle. It is a model, not a load run: -mc checks the
// model against a request-by-request simulation that uses the engine's own
// cache, and README.md ("Scale") sets it beside a measured load run.
//
//	go run ./infra/sim                                # today's traffic (the defaults)
//	go run ./infra/sim -scale 1,10,100,1000           # keys, RPS and changes multiplied
//	go run ./infra/sim -keys 400 -rps 900 -containers 1 -ttl 5s -mc 60s
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func main() {
	var (
		p     Params
		ttl   time.Duration
		flush time.Duration
		dur   time.Duration
		scale string
		mc    time.Duration
	)
	flag.IntVar(&p.Keys, "keys", 100_000, "keys in use")
	flag.Float64Var(&p.RPS, "rps", 500, "payment API requests a second (authorizer decisions)")
	flag.IntVar(&p.Containers, "containers", 0, "warm authorizer containers (0: rps × -duration, at least 1)")
	flag.DurationVar(&dur, "duration", 10*time.Millisecond, "time one authorizer invocation holds its container (Lambda's overhead included)")
	flag.Float64Var(&p.Zipf, "zipf", 1.1, "key popularity: the i-th key is asked for in proportion to i^-s")
	flag.DurationVar(&ttl, "ttl", 5*time.Minute, "key cache TTL (CACHE_TTL)")
	flag.IntVar(&p.CacheSize, "cache-size", 10_000, "keys one container caches at most")
	flag.Float64Var(&p.HMAC, "hmac", 0.2, "share of requests signed with HMAC")
	flag.Float64Var(&p.Garbage, "garbage", 0.01, "share of requests with a well-formed client ID nobody owns")
	flag.Float64Var(&p.Writes, "writes", 0.5, "key changes a second (creates, patches, resets, revokes)")
	flag.DurationVar(&flush, "flush", 10*time.Second, "usage flush interval of one container")
	flag.IntVar(&p.FeedShards, "feed-shards", 1, "partitions the change feed is spread over (1 today)")
	flag.Float64Var(&p.FeedOverlap, "feed-overlap", 10, "seconds each look at the feed reaches back before the previous one (10 today)")
	flag.StringVar(&scale, "scale", "", "comma-separated multiples of -keys, -rps, -writes (and -containers when set) to tabulate")
	flag.DurationVar(&mc, "mc", 0, "also simulate this much traffic request by request (needs -zipf above 1) and print it beside the model")
	flag.Parse()
	p.TTL, p.Flush, p.Duration = ttl.Seconds(), flush.Seconds(), dur.Seconds()
	if err := p.validate(); err != nil {
		fmt.Fprintln(os.Stderr, "sim:", err)
		os.Exit(2)
	}
	multiples := []float64{1}
	if scale != "" {
		multiples = nil
		for _, f := range strings.Split(scale, ",") {
			m, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
			if err != nil || m <= 0 {
				fmt.Fprintf(os.Stderr, "sim: -scale: %q is not a positive number\n", f)
				os.Exit(2)
			}
			multiples = append(multiples, m)
		}
	}
	fmt.Printf("model: zipf s=%g, TTL %s, cache %d keys, %.0f%% HMAC, %.1f%% unknown IDs, usage flush %s, invocation %s, feed %d shard(s) read back %gs\n",
		p.Zipf, ttl, p.CacheSize, p.HMAC*100, p.Garbage*100, flush, dur, p.FeedShards, p.FeedOverlap)
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scale\tkeys\treq/s\tchanges/s\tcontainers\thit rate\tkey reads/s\tsecret reads/s\tfeed reads/s\tRCU/s per feed shard\tWCU/s per feed shard\thot key WCU/s\t")
	var crossed [][]string
	for _, m := range multiples {
		q := p.times(m)
		pr := Predict(q)
		fmt.Fprintf(tw, "%gx\t%d\t%.0f\t%.2f\t%d\t%.2f%%\t%.1f\t%.2f\t%.1f\t%.0f\t%.1f\t%.1f\t\n",
			m, q.Keys, q.RPS, q.Writes, pr.Containers, pr.HitRate*100, pr.KeyReads, pr.SecretReads,
			pr.FeedReads, pr.FeedRCU, pr.FeedWCU, pr.HotKeyWrites)
		if mc > 0 {
			o := simulate(q, mc.Seconds(), 1)
			fmt.Fprintf(tw, "simulated\t\t\t\t\t%.2f%%\t%.1f\t%.2f\t%.1f\t\t\t\t\n", o.HitRate*100, o.KeyReads, o.SecretReads, o.FeedReads)
		}
		crossed = append(crossed, pr.Limits)
	}
	tw.Flush()
	for i, l := range crossed {
		if len(l) == 0 {
			fmt.Printf("%gx: within every partition limit and default quota\n", multiples[i])
			continue
		}
		fmt.Printf("%gx: over %s\n", multiples[i], strings.Join(l, "; "))
	}
}

// times multiplies the traffic by m: more keys, more requests, more changes.
func (p Params) times(m float64) Params {
	p.Keys = max(1, int(float64(p.Keys)*m))
	p.RPS *= m
	p.Writes *= m
	if p.Containers > 0 {
		p.Containers = max(1, int(float64(p.Containers)*m))
	}
	return p
}

func (p Params) validate() error {
	switch {
	case p.Keys < 1:
		return fmt.Errorf("-keys must be at least 1")
	case p.RPS <= 0:
		return fmt.Errorf("-rps must be above 0")
	case p.Containers < 0 || p.Containers == 0 && p.Duration <= 0:
		return fmt.Errorf("-containers must be 0 or more, and -duration above 0 when it is 0")
	case p.Zipf <= 0:
		return fmt.Errorf("-zipf must be above 0")
	case p.TTL <= 0 || p.Flush <= 0:
		return fmt.Errorf("-ttl and -flush must be above 0")
	case p.CacheSize < 1:
		return fmt.Errorf("-cache-size must be at least 1")
	case p.HMAC < 0 || p.HMAC > 1 || p.Garbage < 0 || p.Garbage >= 1:
		return fmt.Errorf("-hmac must be from 0 to 1 and -garbage from 0 to below 1")
	case p.Writes < 0:
		return fmt.Errorf("-writes must not be negative")
	case p.FeedShards < 1 || p.FeedOverlap < 0:
		return fmt.Errorf("-feed-shards must be at least 1 and -feed-overlap not negative")
	}
	return nil
}
