package webhook

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// schedule[n] is the nominal delay before attempt n+1, once n attempts have
// been made: the first attempt goes at once and the last one about three
// days after it.
var schedule = [...]time.Duration{
	0,
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// MaxAttempts is the number of attempts made for one delivery to one
// endpoint before it is marked failed.
const MaxAttempts = len(schedule)

// MaxRetryAfter caps how far a receiver's Retry-After header can postpone the
// next attempt.
const MaxRetryAfter = 24 * time.Hour

// Jitter spreads retries by up to this fraction either side of the nominal
// delay, but never below minDelay.
const (
	jitter   = 0.1
	minDelay = time.Second
)

// NextAttempt returns when to make the next attempt of a delivery, given the
// number of attempts made so far, and false when none are left (after
// MaxAttempts).
//
// No attempts made: the first one is due now. Otherwise the nominal delay of
// the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h, 24 h) is
// spread by ±10% using rnd, which returns values in [0, 1) like
// math/rand/v2.Float64 (used when rnd is nil), and is never below 1 s.
//
// retryAfter is the Retry-After header of the last response, in
// delta-seconds or as an HTTP date; empty or unparsable values are ignored.
// It can only postpone the attempt, never bring it forward: the delay is the
// larger of the jittered delay and Retry-After, with Retry-After capped at
// MaxRetryAfter.
func NextAttempt(attempt int, now time.Time, retryAfter string, rnd func() float64) (time.Time, bool) {
	if attempt >= MaxAttempts {
		return time.Time{}, false
	}
	if attempt <= 0 {
		return now, true
	}
	if rnd == nil {
		rnd = rand.Float64
	}
	r := min(max(rnd(), 0), 1)
	d := time.Duration(float64(schedule[attempt]) * (1 - jitter + 2*jitter*r))
	d = max(d, minDelay)
	if ra, ok := parseRetryAfter(retryAfter, now); ok {
		d = max(d, ra)
	}
	return now.Add(d), true
}

// parseRetryAfter reads a Retry-After value (RFC 9110 §10.2.3) as a delay
// from now in [0, MaxRetryAfter]. Anything else is not ok.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if strings.Trim(v, "0123456789") == "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil || n > uint64(MaxRetryAfter/time.Second) {
			return MaxRetryAfter, true // only too many digits fail to parse here
		}
		return time.Duration(n) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return min(max(t.Sub(now), 0), MaxRetryAfter), true
}
