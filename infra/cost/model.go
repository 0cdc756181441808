package main

import "math"

// Prices are AWS list prices, us-east-1, in US dollars.
type Prices struct {
	SecretMonth      float64 // Secrets Manager: one secret for a month
	SecretPer10kCall float64 // Secrets Manager: 10,000 API calls
	DDBPerMRead      float64 // DynamoDB on-demand: one million read request units
	DDBPerMWrite     float64 // DynamoDB on-demand: one million write request units
	DDBGBMonth       float64 // DynamoDB standard storage: one GB for a month
	LambdaPerMReq    float64 // Lambda: one million requests
	LambdaGBSecond   float64 // Lambda arm64: one GB-second
	HTTPAPIPerMReq   float64 // API Gateway HTTP API: one million requests (first 300 million)
	LogsPerGBIngest  float64 // CloudWatch Logs: one GB ingested
	LogsPerGBStored  float64 // CloudWatch Logs: one GB stored for a month
	MetricMonth      float64 // CloudWatch: one custom metric for a month (first 10,000)
}

// PriceDate is when Prices were read from the AWS pricing pages.
const PriceDate = "2025-06 (AWS public pricing pages, us-east-1)"

// ListPrices are the prices of PriceDate.
var ListPrices = Prices{
	SecretMonth: 0.40, SecretPer10kCall: 0.05,
	DDBPerMRead: 0.125, DDBPerMWrite: 0.625, DDBGBMonth: 0.25,
	LambdaPerMReq: 0.20, LambdaGBSecond: 0.0000133334,
	HTTPAPIPerMReq:  1.00,
	LogsPerGBIngest: 0.50, LogsPerGBStored: 0.03, MetricMonth: 0.30,
}

// Inputs describe a deployment's traffic.
type Inputs struct {
	Keys       float64 // keys in the table
	RPS        float64 // authorizer decisions per second, on average over the month
	HMACShare  float64 // share of them that are HMAC-signed (the rest bearer)
	Containers float64 // warm authorizer containers
}

// Assumptions are the model's fixed facts about the service (README: Cost).
type Assumptions struct {
	MonthSeconds   float64 // 30 days
	CacheTTL       float64 // seconds a container keeps a key and its secret (CACHE_TTL)
	UsageFlush     float64 // seconds between a container's usage flushes
	ChurnPerMonth  float64 // share of keys created, reset or revoked in a month
	AuthorizerMS   float64 // billed milliseconds of one decision
	MemoryGB       float64 // the functions' memory
	LogBytes       float64 // bytes logged per decision (the decision line and its metrics)
	Metrics        float64 // custom metrics the functions publish
	KeyItemKB      float64 // a key item's size
	EnvelopeItemKB float64 // what the envelope store adds to it (the ciphertext)
	KEKReads       float64 // Secrets Manager reads of the KEK per container per month (cold starts)
}

// Defaults are the assumptions the README's table uses.
var Defaults = Assumptions{
	MonthSeconds: 30 * 24 * 3600, CacheTTL: 300, UsageFlush: 10, ChurnPerMonth: 0.05,
	AuthorizerMS: 3, MemoryGB: 0.25, LogBytes: 600, Metrics: 40,
	KeyItemKB: 1, EnvelopeItemKB: 0.2, KEKReads: 720,
}

// Line is one part of the bill.
type Line struct {
	Part    string
	PerKey  float64 // per-key Secrets Manager store
	Envelop float64 // envelope store
}

// distinct is how many different keys n uniformly chosen requests name among
// k keys: k(1-(1-1/k)^n). Uniform popularity is the worst case for a cache;
// real traffic (Zipf) hits it more often.
func distinct(k, n float64) float64 {
	if k <= 0 || n <= 0 {
		return 0
	}
	return k * -math.Expm1(n*math.Log1p(-1/k))
}

// Estimate prices one month of in for both secret stores.
func Estimate(in Inputs, a Assumptions, p Prices) []Line {
	requests := in.RPS * a.MonthSeconds
	hmac := requests * in.HMACShare
	windows := a.MonthSeconds / a.CacheTTL // cache lifetimes per container per month
	// Key reads: one strongly consistent GetItem per key a container sees in
	// a cache lifetime. HMAC secrets: the same for the per-key store's
	// GetSecretValue; the envelope store decrypts from the key item.
	perWindow := requests / in.Containers / windows
	keyReads := in.Containers * windows * distinct(in.Keys, perWindow)
	secretReads := in.Containers * windows * distinct(in.Keys*in.HMACShare, perWindow*in.HMACShare)
	nonceWrites := hmac // one conditional PutItem per signed request
	// Usage: per flush, per key seen, a two-item transaction (2 WRU each)
	// and a last-used update.
	flushes := a.MonthSeconds / a.UsageFlush
	usageWrites := in.Containers * flushes * distinct(in.Keys, requests/in.Containers/flushes) * 5
	// Change feed: each warm container queries it once a second (1 RRU);
	// each change writes one entry in its own transaction (2 WRU) beside
	// the key (2 WRU), its outbox event and audit record (2 WRU each).
	feedReads := in.Containers * a.MonthSeconds
	changes := in.Keys * a.ChurnPerMonth
	changeWrites := changes * 8

	ddbReads := (keyReads + feedReads) / 1e6 * p.DDBPerMRead
	ddbWrites := (nonceWrites + usageWrites + changeWrites) / 1e6 * p.DDBPerMWrite
	storage := in.Keys * a.KeyItemKB / 1e6 * p.DDBGBMonth
	lambda := requests/1e6*p.LambdaPerMReq + requests*a.AuthorizerMS/1000*a.MemoryGB*p.LambdaGBSecond
	logsGB := requests * a.LogBytes / 1e9

	// Secrets Manager: the per-key store pays for every secret, reads HMAC
	// secrets on cache misses and makes about 3 calls per change; the
	// envelope store pays for two KEK secrets (key secrets, webhook signing
	// secrets) and the authorizer reads the first per container start.
	smPerKey := in.Keys*p.SecretMonth + (secretReads+changes*3)/1e4*p.SecretPer10kCall
	smEnvelope := 2*p.SecretMonth + in.Containers*a.KEKReads/1e4*p.SecretPer10kCall
	return []Line{
		{"Secrets Manager secrets and calls", smPerKey, smEnvelope},
		{"DynamoDB reads (keys, change feed)", ddbReads, ddbReads},
		{"DynamoDB writes (nonces, usage, changes)", ddbWrites, ddbWrites},
		{"DynamoDB storage", storage, storage + in.Keys*a.EnvelopeItemKB/1e6*p.DDBGBMonth},
		{"Lambda invocations and duration", lambda, lambda},
		{"API Gateway (HTTP API)", requests / 1e6 * p.HTTPAPIPerMReq, requests / 1e6 * p.HTTPAPIPerMReq},
		{"CloudWatch logs and metrics", logsGB*(p.LogsPerGBIngest+p.LogsPerGBStored) + a.Metrics*p.MetricMonth,
			logsGB*(p.LogsPerGBIngest+p.LogsPerGBStored) + a.Metrics*p.MetricMonth},
	}
}

// Total sums the lines for each store.
func Total(lines []Line) (perKey, envelope float64) {
	for _, l := range lines {
		perKey += l.PerKey
		envelope += l.Envelop
	}
	return perKey, envelope
}
