package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(1, math.Abs(b)) }

// One case computed by hand: one key, one request a second, all signed,
// one container, every price 1, over a 1000-second month.
func TestEstimateByHand(t *testing.T) {
	in := Inputs{Keys: 1, RPS: 1, HMACShare: 1, Containers: 1}
	a := Assumptions{MonthSeconds: 1000, CacheTTL: 100, UsageFlush: 10, ChurnPerMonth: 1, AuthorizerMS: 1000,
		MemoryGB: 1, LogBytes: 1e6, Metrics: 1, KeyItemKB: 1e6, EnvelopeItemKB: 1e6, KEKReads: 10}
	p := Prices{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1}
	// 1000 requests; 10 cache lifetimes: 10 key reads and 10 secret reads;
	// 1000 nonces; 100 flushes x 5 WRU; 1000 feed polls; 1 change x 8 WRU.
	want := []Line{
		{"Secrets Manager secrets and calls", 1 + 13.0/1e4, 2 + 10.0/1e4},
		{"DynamoDB reads (keys, change feed)", 1010 / 1e6, 1010 / 1e6},
		{"DynamoDB writes (nonces, usage, changes)", 1508 / 1e6, 1508 / 1e6},
		{"DynamoDB storage", 1, 2},
		{"Lambda invocations and duration", 1000/1e6 + 1000, 1000/1e6 + 1000},
		{"API Gateway (HTTP API)", 1000 / 1e6, 1000 / 1e6},
		{"CloudWatch logs and metrics", 3, 3},
	}
	got := Estimate(in, a, p)
	if len(got) != len(want) {
		t.Fatalf("%d lines, want %d", len(got), len(want))
	}
	for i, w := range want {
		if g := got[i]; g.Part != w.Part || !near(g.PerKey, w.PerKey) || !near(g.Envelop, w.Envelop) {
			t.Errorf("line %d = %+v, want %+v", i, g, w)
		}
	}
	if perKey, env := Total(got); !near(perKey, 1005.005818) || !near(env, 1007.005518) {
		t.Errorf("totals = %.6f, %.6f; want 1005.005818, 1007.005518", perKey, env)
	}
}

func TestDistinct(t *testing.T) {
	for _, c := range []struct{ k, n, want float64 }{
		{2, 2, 1.5}, // 2 x (1 - 1/4)
		{1, 7, 1},
		{10, 0, 0},
		{0, 5, 0},
	} {
		if got := distinct(c.k, c.n); !near(got, c.want) {
			t.Errorf("distinct(%g, %g) = %g, want %g", c.k, c.n, got, c.want)
		}
	}
}

// The output cites the prices' date, and the per-key store pays $0.40 a key.
func TestRunCitesPrices(t *testing.T) {
	var out bytes.Buffer
	if err := run(&out, Inputs{Keys: 100000, RPS: 0, HMACShare: 0, Containers: 1}, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), PriceDate) || !strings.Contains(out.String(), "40000.") {
		t.Errorf("output:\n%s", out.String())
	}
	if err := run(&out, Inputs{Keys: 1, HMACShare: 2, Containers: 1}, false); err == nil {
		t.Error("HMAC_SHARE 2 accepted")
	}
}
