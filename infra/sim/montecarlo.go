package main

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/paykeys/paykeys/internal/ttlcache"
)

// Observed is what a Monte Carlo run counted, per second of simulated time
// after the warm-up.
type Observed struct {
	HitRate     float64
	KeyReads    float64
	SecretReads float64
	FeedReads   float64
}

// container is one warm authorizer: its caches (the engine's own ttlcache)
// and where in the change log its last look at the feed stopped.
type container struct {
	keys, secrets *ttlcache.Cache[struct{}]
	lastLook      float64
	seen          int
}

// simulate plays p for seconds of simulated time after a warm-up of one TTL,
// request by request: Poisson arrivals spread evenly over the containers,
// keys drawn by Zipf's law (s > 1), key changes at p.Writes a second on
// keys drawn evenly and seen by each container at its next look at the
// feed, at most one look a second, made by the first decision after it is due.
func simulate(p Params, seconds float64, seed uint64) Observed {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	z := rand.NewZipf(rng, p.Zipf, 1, uint64(p.Keys-1))
	n := p.containers()
	cs := make([]*container, n)
	for i := range cs {
		cs[i] = &container{
			keys:     ttlcache.New[struct{}](p.CacheSize, dur(p.TTL)),
			secrets:  ttlcache.New[struct{}](p.CacheSize, dur(p.TTL)),
			lastLook: math.Inf(-1),
		}
	}
	epoch := time.Unix(0, 0)
	warm := p.TTL
	end := warm + seconds
	var changes []string // keys changed, in order
	nextChange := expo(rng, p.Writes)
	var lookups, misses, secretMisses, garbage, looks float64
	for now := expo(rng, p.RPS); now < end; now += expo(rng, p.RPS) {
		for ; nextChange <= now; nextChange += expo(rng, p.Writes) {
			changes = append(changes, strconv.Itoa(rng.IntN(p.Keys)))
		}
		counting := now >= warm
		c := cs[rng.IntN(n)]
		at := epoch.Add(dur(now))
		if now-c.lastLook >= 1 {
			for _, id := range changes[c.seen:] {
				c.keys.Remove(id)
				c.secrets.Remove(id)
			}
			c.seen, c.lastLook = len(changes), now
			if counting {
				looks++
			}
		}
		if rng.Float64() < p.Garbage {
			if counting {
				garbage++
			}
			continue
		}
		id := strconv.FormatUint(z.Uint64(), 10)
		if counting {
			lookups++
		}
		if _, ok := c.keys.Get(id, at); !ok {
			c.keys.Add(id, struct{}{}, at)
			if counting {
				misses++
			}
		}
		if rng.Float64() < p.HMAC {
			if _, ok := c.secrets.Get(id, at); !ok {
				c.secrets.Add(id, struct{}{}, at)
				if counting {
					secretMisses++
				}
			}
		}
	}
	return Observed{
		HitRate:     1 - misses/max(lookups, 1),
		KeyReads:    (misses + garbage) / seconds,
		SecretReads: secretMisses / seconds,
		FeedReads:   looks / seconds,
	}
}

// expo draws the wait for the next event of a Poisson process of rate r.
func expo(rng *rand.Rand, r float64) float64 {
	if r <= 0 {
		return math.Inf(1)
	}
	return rng.ExpFloat64() / r
}

func dur(seconds float64) time.Duration { return time.Duration(seconds * float64(time.Second)) }
