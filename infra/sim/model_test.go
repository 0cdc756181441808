package main

import (
	"math"
	"strings"
	"testing"
)

func base() Params {
	return Params{Keys: 1, RPS: 10, Containers: 1, Zipf: 1.1, TTL: 1, CacheSize: 100, Flush: 10, FeedShards: 1, FeedOverlap: 10}
}

// One key asked for 10 times a second with a 1 s TTL: a miss, then the entry
// lives 1 s, then the next request comes 0.1 s later on average, so 1 miss
// every 1.1 s: 10/11 misses a second out of 10 lookups. The feed is looked
// at by the first request a second after the last look: every 1.1 s too.
func TestPredictHandComputed(t *testing.T) {
	pr := Predict(base())
	checks := []struct {
		name      string
		got, want float64
	}{
		{"hit rate", pr.HitRate, 1 - 1.0/11},
		{"key reads", pr.KeyReads, 10.0 / 11},
		{"feed reads", pr.FeedReads, 10.0 / 11},
		{"feed RCU", pr.FeedRCU, 10.0 / 11},
		{"feed WCU", pr.FeedWCU, 0},
		{"hot key reads", pr.HotKeyReads, 10.0 / 11},
		// Every 10 s flush of the one container writes 2 transactional items and the last use.
		{"hot key writes", pr.HotKeyWrites, (1 - math.Exp(-100)) / 10 * 5},
	}
	for _, c := range checks {
		if math.Abs(c.got-c.want) > 1e-9 {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
	if len(pr.Limits) != 0 {
		t.Errorf("limits %v, want none", pr.Limits)
	}
}

// The model and a request-by-request run over the engine's own cache agree
// where the cache is large enough, with changes and HMAC requests.
func TestPredictMatchesSimulation(t *testing.T) {
	cases := []Params{
		{Keys: 400, RPS: 900, Containers: 1, Zipf: 1.1, TTL: 5, CacheSize: 10000, HMAC: 0.2, Flush: 10},
		{Keys: 2000, RPS: 1500, Containers: 4, Zipf: 1.3, TTL: 20, CacheSize: 10000, HMAC: 0.5, Garbage: 0.05, Writes: 20, Flush: 10},
	}
	for _, p := range cases {
		pr, o := Predict(p), simulate(p, 60, 7)
		if d := math.Abs(pr.HitRate - o.HitRate); d > 0.01 {
			t.Errorf("%+v: hit rate model %.4f, simulated %.4f", p, pr.HitRate, o.HitRate)
		}
		for _, c := range []struct {
			name           string
			model, counted float64
		}{{"key reads", pr.KeyReads, o.KeyReads}, {"secret reads", pr.SecretReads, o.SecretReads}, {"feed reads", pr.FeedReads, o.FeedReads}} {
			if math.Abs(c.model-c.counted) > 0.08*c.counted+0.5 {
				t.Errorf("%+v: %s model %.2f, simulated %.2f", p, c.name, c.model, c.counted)
			}
		}
	}
}

func TestPredictNamesTheLimitsCrossed(t *testing.T) {
	cases := []struct {
		name   string
		change func(*Params)
		want   string
	}{
		{"many containers read the feed", func(p *Params) { p.Containers, p.RPS = 4000, 400000 }, "feed partition reads"},
		{"many changes", func(p *Params) { p.Writes = 600 }, "feed partition writes"},
		{"many changes read back often", func(p *Params) { p.Containers, p.RPS, p.Writes = 500, 50000, 50 }, "feed partition reads"},
		{"one key used by many containers", func(p *Params) { p.Containers, p.RPS = 3000, 300000 }, "hottest key partition writes"},
		{"cache too small", func(p *Params) { p.Keys, p.RPS, p.CacheSize = 1000, 100000, 10 }, "keys resident per container"},
	}
	for _, c := range cases {
		p := base()
		c.change(&p)
		pr := Predict(p)
		if !strings.Contains(strings.Join(pr.Limits, "; "), c.want) {
			t.Errorf("%s: limits %v, want one naming %q", c.name, pr.Limits, c.want)
		}
	}
}

// Sharding the feed divides what each partition serves: the reads that
// throttle one partition fit on eight.
func TestFeedShardsSpreadTheLoad(t *testing.T) {
	p := base()
	p.Containers, p.RPS, p.Writes = 500, 50000, 50
	one := Predict(p)
	p.FeedShards = 8
	eight := Predict(p)
	if one.FeedRCU <= partitionRCU || eight.FeedRCU > partitionRCU {
		t.Fatalf("feed RCU/s per partition: one shard %.0f, eight %.0f; want above and within %d", one.FeedRCU, eight.FeedRCU, partitionRCU)
	}
	if eight.FeedWCU*8 != one.FeedWCU {
		t.Errorf("feed WCU/s: one shard %.1f, eight %.1f each", one.FeedWCU, eight.FeedWCU)
	}
}
