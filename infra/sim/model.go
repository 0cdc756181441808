package main

import (
	"fmt"
	"math"
	"sort"
)

// DynamoDB's limits that decide where a hot spot throttles: one partition
// serves at most 3,000 read units and 1,000 write units a second, and one
// item can never be split across partitions.
const (
	partitionRCU = 3000
	partitionWCU = 1000
	// A strongly consistent read costs one unit per 4 KB.
	readUnitBytes = 4096
	// A write inside TransactWriteItems costs two units (a ConditionCheck too).
	txWCU = 2
	// feedEntryBytes is the size of one change-feed item as DynamoDB counts it
	// (pk "FEED", a 13-digit time and a client ID as sort key, id, revision, ttl).
	feedEntryBytes = 110
	// lambdaConcurrencyQuota and apiGatewayRPSQuota are the default account
	// quotas per region (both can be raised on request).
	lambdaConcurrencyQuota = 1000
	apiGatewayRPSQuota     = 10000
	// secretsManagerGetQuota is GetSecretValue's default rate per account.
	secretsManagerGetQuota = 10000
)

// Params describe a deployment's traffic. Rates are per second.
type Params struct {
	Keys       int     // keys in use
	RPS        float64 // requests to the payment API (each one authorizer decision)
	Containers int     // warm authorizer containers; 0: RPS × Duration (Little's law), at least 1
	Duration   float64 // seconds one authorizer invocation keeps its container busy
	Zipf       float64 // popularity exponent s: key i (1-based) is asked for with weight i^-s
	TTL        float64 // seconds a key stays cached (CACHE_TTL)
	CacheSize  int     // entries a container's key cache holds at most
	HMAC       float64 // share of requests signed with HMAC (they also need the secret)
	Garbage    float64 // share of requests with a well-formed client ID nobody owns, each new
	Writes     float64 // key changes per second (create, patch, reset, revoke, lifecycle)
	Flush      float64 // seconds between usage flushes of one container (usage.FlushInterval)
	// FeedShards is how many partitions the change feed is spread over (1
	// today); each look reads every one of them.
	FeedShards int
	// FeedOverlap is how many seconds before its previous look each look
	// reaches (10 in internal/authz): every entry is read by several looks.
	FeedOverlap float64
}

// Prediction is what the model expects of a deployment.
type Prediction struct {
	Containers int
	HitRate    float64 // share of key lookups answered from the cache
	Resident   float64 // keys a container holds on average (LRU pressure when above CacheSize)

	KeyReads    float64 // GetItem of key records per second (misses and unknown IDs)
	SecretReads float64 // GetSecretValue per second (signed requests whose secret is not cached)
	NonceWrites float64 // conditional PutItem per second (one per signed request)

	FeedReads    float64 // change-feed Queries per second (all containers)
	FeedRCU      float64 // read units a second on each partition of the feed
	FeedWCU      float64 // write units a second on each partition of the feed
	HotKeyReads  float64 // reads a second of the most popular key's item
	HotKeyWrites float64 // write units a second on the most popular key's items (usage flush, last use)

	// Limits: the first of these that the prediction crosses, or none.
	Limits []string
}

// zipfNorm is the sum of i^-s for i from 1 to n, which divides each key's
// weight into its share of requests. Keys are not stored: a million keys
// would cost a slice the model does not need.
func zipfNorm(n int, s float64) float64 {
	var sum float64
	for i := n; i >= 1; i-- { // smallest first, for precision
		sum += math.Pow(float64(i), -s)
	}
	return sum
}

// containers is how many warm authorizer containers serve p.RPS.
func (p Params) containers() int {
	if p.Containers > 0 {
		return p.Containers
	}
	return max(1, int(math.Ceil(p.RPS*p.Duration)))
}

// renewal returns how many times a second one container misses a key asked
// for lam times a second and changed w times a second, and the share of the
// time it holds it. The cache keeps an entry for ttl from the miss that read
// it (internal/ttlcache does not extend it on a hit) or until a change drops
// it, whichever comes first: on average (1-e^(-w·ttl))/w, or ttl when w is 0.
// Then the next request, 1/lam later on average, misses.
func renewal(lam, w, ttl float64) (misses, held float64) {
	if lam <= 0 {
		return 0, 0
	}
	kept := ttl
	if w > 0 {
		kept = -math.Expm1(-w*ttl) / w
	}
	cycle := kept + 1/lam
	return 1 / cycle, kept / cycle
}

// Predict computes the steady state, key by key (renewal). The change feed is read by the first decision after a second has passed since
// the last look: at rate Λ/(1+Λ) for a container receiving Λ requests a second.
func Predict(p Params) Prediction {
	n := p.containers()
	out := Prediction{Containers: n}
	valid := p.RPS * (1 - p.Garbage)
	var misses, secretMisses, resident float64
	perKeyWrite := p.Writes / float64(p.Keys) // changes fall on keys evenly
	norm := zipfNorm(p.Keys, p.Zipf)
	for i := 1; i <= p.Keys; i++ {
		pi := math.Pow(float64(i), -p.Zipf) / norm
		lam := valid * pi / float64(n)
		m, held := renewal(lam, perKeyWrite, p.TTL)
		misses += m
		resident += held
		sm, _ := renewal(lam*p.HMAC, perKeyWrite, p.TTL)
		secretMisses += sm
	}
	lookups := valid / float64(n)
	if lookups > 0 {
		out.HitRate = max(0, 1-misses/lookups)
	}
	out.Resident = resident
	garbage := p.RPS * p.Garbage
	out.KeyReads = float64(n)*misses + garbage
	out.SecretReads = float64(n) * secretMisses
	out.NonceWrites = valid * p.HMAC

	perContainer := p.RPS / float64(n)
	looksPerSecond := perContainer / (1 + perContainer)
	out.FeedReads = float64(n) * looksPerSecond
	shards := float64(max(p.FeedShards, 1))
	window := p.FeedOverlap + 1/math.Max(looksPerSecond, 1e-9)
	entries := p.Writes * window / shards // in each shard
	out.FeedRCU = out.FeedReads * math.Max(1, math.Ceil(entries*feedEntryBytes/readUnitBytes))
	out.FeedWCU = p.Writes * txWCU / shards

	hot := valid / norm / float64(n)
	hotMisses, _ := renewal(hot, perKeyWrite, p.TTL)
	out.HotKeyReads = float64(n) * hotMisses
	// Each flush of a container that used the key writes a usage transaction
	// (a ConditionCheck on the key and an update of the day item: 2 × 2 units)
	// and the last use (1 unit).
	flushes := float64(n) * (1 - math.Exp(-hot*p.Flush)) / p.Flush
	out.HotKeyWrites = flushes * (2*txWCU + 1)
	out.Limits = limits(p, out)
	return out
}

// limits names every quota or partition limit the prediction crosses.
func limits(p Params, out Prediction) []string {
	var l []string
	check := func(v, limit float64, what string) {
		if v > limit {
			l = append(l, fmt.Sprintf("%s: %.0f > %.0f", what, v, limit))
		}
	}
	check(out.FeedRCU, partitionRCU, "feed partition reads (RCU/s)")
	check(out.FeedWCU, partitionWCU, "feed partition writes (WCU/s)")
	check(out.HotKeyReads, partitionRCU, "hottest key item reads (RCU/s)")
	check(out.HotKeyWrites, partitionWCU, "hottest key partition writes (WCU/s)")
	check(float64(out.Containers), lambdaConcurrencyQuota, "Lambda concurrency (default quota)")
	check(p.RPS, apiGatewayRPSQuota, "API Gateway requests/s (default quota)")
	check(out.SecretReads, secretsManagerGetQuota, "GetSecretValue/s (default quota)")
	check(out.Resident, float64(p.CacheSize), "keys resident per container (CACHE_SIZE; LRU evictions lower the hit rate)")
	sort.Strings(l)
	return l
}
