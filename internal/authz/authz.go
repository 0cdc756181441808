// Package authz decides whether a presented API key may make a request. It is
// the one decision core behind the API Gateway authorizer and the service
// verify route: parse, find the key (through a short-lived cache), prove the
// credential, then apply the key's restrictions in the contract's order.
package authz

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
	"github.com/paykeys/paykeys/internal/ttlcache"
)

// Keys finds a key by client ID with one strongly consistent read.
type Keys interface {
	GetKey(ctx context.Context, id string) (*key.Key, error)
}

// Secrets reads one version of a key's secret.
type Secrets interface {
	Get(ctx context.Context, clientID, versionID string) (string, error)
}

// Nonces records a nonce once, reporting false when it was already used.
type Nonces interface {
	UseNonce(ctx context.Context, clientID, nonce string, now, until time.Time) (bool, error)
}

// Feed is the change feed: the keys written after since, oldest first, with
// complete false when there were more than one read returns.
type Feed interface {
	Changes(ctx context.Context, since time.Time) (entries []key.FeedEntry, complete bool, err error)
}

// refreshAfter is how old a re-read copy of a key must be before a secret that
// does not match it makes the engine read the key again. A copy cached the
// ordinary way is re-read at once, so a reset's new secret works at once,
// while garbage costs at most one read per key per interval.
const refreshAfter = time.Second

// NonceLifetime is how long a nonce is remembered: longer than the ±300 s
// window, so a replay inside the window is always caught.
const NonceLifetime = 600 * time.Second

// How the engine follows the change feed.
const (
	// PollInterval is how often the engine asks the feed what changed: a
	// change reaches a warm engine within about this long of its commit.
	PollInterval = time.Second
	// maxLag is the oldest a completed look may be for a decision that does
	// not wait for a look under way: a change takes effect within it.
	maxLag = 2 * PollInterval
	// feedOverlap is how far back each look reaches before the previous one,
	// to catch a write whose time was taken before a look and that committed
	// after it. Writers bound a key write to half of this (store.FeedWriteBound).
	feedOverlap = 10 * time.Second
	// feedTrustFor is how long after its last look the engine may still
	// read the feed from there; past it (a container frozen for long) the
	// feed may have dropped entries, so the whole cache is dropped instead.
	feedTrustFor = 30 * time.Minute
	// fetchTimeout bounds a key or secret read shared by concurrent callers,
	// which runs on no single caller's context.
	fetchTimeout = 5 * time.Second
)

// Options tune the engine.
type Options struct {
	// CacheTTL is how long key metadata is kept; default 5 minutes; negative:
	// no cache. The change feed, not the TTL, bounds how long a change takes
	// to be seen; without a feed the TTL does.
	CacheTTL    time.Duration
	NegativeTTL time.Duration // how long an unknown key is remembered; default 5 s
	CacheSize   int           // keys (and unknown IDs, and secrets) held at most; default 10000
	Feed        Feed          // the change feed; nil: changes are seen only when the TTL ends
	Brand       key.Brand     // the prefix of the deployment's secrets; "" is key.DefaultBrand
}

// Engine decides. It is safe for concurrent use and meant to live for the
// whole life of a Lambda container.
type Engine struct {
	keys    Keys
	secrets Secrets
	nonces  Nonces
	brand   key.Brand
	Now     func() time.Time

	known   *ttlcache.Cache[cachedKey]
	unknown *ttlcache.Cache[struct{}]
	secret  *ttlcache.Cache[*secretSet] // client ID → the versions read for signed requests
	// newest is the highest revision the feed has shown per client ID, so a
	// read that raced a change is not cached.
	newest  *ttlcache.Cache[int64]
	flight  singleflight.Group
	noCache bool

	// feed is followed on the wall clock (time.Now, not Now): writers stamp
	// entries with wall time.
	feed     Feed
	pollMu   sync.Mutex
	lastPoll atomic.Int64 // wall-clock unix nanoseconds of the last complete look; 0: never
	stats    Stats
}

// Stats counts what the engine did, for metrics and measurements.
type Stats struct {
	Hits, Misses      atomic.Int64 // key lookups answered from the cache, or not
	Polls, PollErrors atomic.Int64 // looks at the change feed
	Dropped, Purges   atomic.Int64 // keys dropped by a feed entry; whole-cache drops
	FeedEntries       atomic.Int64 // feed entries read
	// LagMax is the longest time, in milliseconds, from a change's write
	// to the look at the feed that first showed it, since it was last
	// taken (Swap(0)).
	LagMax atomic.Int64
}

// lag records the lag of one change the feed showed for the first time.
func (s *Stats) lag(d time.Duration) {
	ms := d.Milliseconds()
	for {
		cur := s.LagMax.Load()
		if ms <= cur || s.LagMax.CompareAndSwap(cur, ms) {
			return
		}
	}
}

// Stats returns the engine's counters.
func (e *Engine) Stats() *Stats { return &e.stats }

// New returns an Engine reading through the given stores.
func New(keys Keys, secrets Secrets, nonces Nonces, o Options) *Engine {
	noCache := o.CacheTTL < 0
	if o.CacheTTL <= 0 {
		o.CacheTTL = DefaultCacheTTL
	}
	if o.NegativeTTL == 0 {
		o.NegativeTTL = 5 * time.Second
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	return &Engine{
		keys: keys, secrets: secrets, nonces: nonces, brand: o.Brand, Now: time.Now, noCache: noCache,
		known:   ttlcache.New[cachedKey](o.CacheSize, o.CacheTTL),
		unknown: ttlcache.New[struct{}](o.CacheSize, o.NegativeTTL),
		secret:  ttlcache.New[*secretSet](o.CacheSize, o.CacheTTL),
		newest:  ttlcache.New[int64](o.CacheSize, 2*feedOverlap),
		feed:    o.Feed,
	}
}

// DefaultCacheTTL is how long a key is cached when Options say nothing. The
// change feed tells a warm engine of every change within a second, so the TTL
// only bounds memory held for keys no longer used and the damage of a feed
// that stopped being written; it is long for a high hit rate.
const DefaultCacheTTL = 5 * time.Minute

// Request is a request to decide on, as the caller saw it.
type Request struct {
	Bearer string            // the secret from X-API-Key or Authorization: Bearer
	HMAC   signature.Headers // the signed-request headers
	// For signed requests: the method, the path as sent, and the canonical query.
	Method, Path, CanonicalQuery string
	// PathForms are other forms of Path the client may have sent and signed
	// (signature.PathForms): an HTTP API passes the path decoded.
	PathForms []string
	// QueryErr is set when the query could not be canonicalised.
	QueryErr error
	// RFC 9421 signatures with a registered public key: the Signature-Input
	// and Signature headers, the request as RFC 9421 sees it, and whether it
	// has a body (a Content-Length above 0, a Transfer-Encoding, or a
	// Content-Digest).
	SignatureInput, MessageSignature string
	Message                          signature.Message
	HasBody                          bool
	// Conflict is set when the request presented more than one credential,
	// or one credential header with two different values: the request is
	// MALFORMED whatever else it carries, and no store is read.
	Conflict bool
	Need     key.Requirement // Mode is filled in by Decide
}

// Decision is the outcome (key.Decision, so that its users need not link
// the engine).
type Decision = key.Decision

// CodeStoreUnavailable is the code of a decision that could not be made
// because a store could not be read or written. Decide returns it only with
// an error; it is neither an Allow nor a denial of the caller's credential.
const CodeStoreUnavailable key.Code = "STORE_UNAVAILABLE"

// The stores a StoreError names.
const (
	StoreKeys    = "keys"    // key records (DynamoDB)
	StoreSecrets = "secrets" // key secrets (Secrets Manager)
	StoreNonces  = "nonces"  // used HMAC nonces (DynamoDB)
)

// StoreError is the error Decide returns when a store failed: Store names
// which one (StoreKeys, StoreSecrets or StoreNonces).
type StoreError struct {
	Store string
	Err   error
}

func (e *StoreError) Error() string { return e.Store + " store unavailable: " + e.Err.Error() }

func (e *StoreError) Unwrap() error { return e.Err }

// unavailable wraps err as a failure of store, unless it already names one.
func unavailable(store string, err error) error {
	var se *StoreError
	if err == nil || errors.As(err, &se) {
		return err
	}
	return &StoreError{Store: store, Err: err}
}

// Decide decides. An error (a *StoreError) means a store failed: the
// decision's code is then CodeStoreUnavailable and the caller must not allow.
func (e *Engine) Decide(ctx context.Context, r Request) (Decision, error) {
	hmacPresent := r.HMAC.Present()
	messagePresent := signature.MessagePresent(r.SignatureInput, r.MessageSignature)
	presented := 0
	for _, p := range [...]bool{r.Bearer != "", hmacPresent, messagePresent} {
		if p {
			presented++
		}
	}
	var d Decision
	var err error
	switch {
	case r.Conflict || presented != 1:
		return Decision{Code: key.CodeMalformed}, nil // exactly one credential per request
	case r.Bearer != "":
		d, err = e.bearer(ctx, r)
	case hmacPresent:
		d, err = e.signed(ctx, r)
	default:
		d, err = e.publicSigned(ctx, r)
	}
	if err != nil {
		// An outage proves nothing either way: not a wrong secret, not a bad
		// signature, not a replay.
		d.Code, d.Key, d.SecretVersion = CodeStoreUnavailable, nil, 0
	}
	return d, err
}

// DecideBearer decides on a bearer secret alone, as Decide does.
func (e *Engine) DecideBearer(ctx context.Context, secret string, need key.Requirement) (Decision, error) {
	return e.Decide(ctx, Request{Bearer: secret, Need: need})
}

func (e *Engine) bearer(ctx context.Context, r Request) (Decision, error) {
	d := Decision{Mode: key.ModeBearer}
	parsed, ok := e.brand.ParseSecret(r.Bearer)
	if !ok {
		d.Code = key.CodeMalformed
		return d, nil
	}
	d.ClientID = parsed.ClientID
	now := e.Now()
	hash := key.Hash(r.Bearer)
	var k *key.Key
	m := key.NoMatch
	err := e.withKey(ctx, parsed.ClientID, now, &d, func(c *key.Key) (bool, error) {
		k, m = c, c.MatchSecret(hash, now)
		return m != key.NoMatch, nil
	})
	if err != nil {
		return d, unavailable(StoreKeys, err)
	}
	if k == nil || m == key.NoMatch {
		d.Code = key.CodeNotFound // a wrong secret reveals nothing about the key
		return d, nil
	}
	return e.check(d, k, m, r, now), nil
}

func (e *Engine) signed(ctx context.Context, r Request) (Decision, error) {
	d := Decision{Mode: key.ModeHMAC}
	p, err := signature.Parse(r.HMAC)
	if err != nil || r.QueryErr != nil || !key.ValidClientID(p.ClientID) {
		d.Code = key.CodeMalformed
		return d, nil
	}
	d.ClientID = p.ClientID
	now := e.Now()
	sts := make([]string, 0, 1+len(r.PathForms))
	for _, path := range append([]string{r.Path}, r.PathForms...) {
		sts = append(sts, signature.StringToSign(r.Method, path, r.CanonicalQuery, p.TimestampRaw, p.Nonce, p.ContentSHA256))
	}
	var k *key.Key
	m := key.NoMatch
	inWindow := p.InWindow(now)
	err = e.withKey(ctx, p.ClientID, now, &d, func(c *key.Key) (bool, error) {
		k = c
		if !inWindow {
			return true, nil
		}
		var err error
		m, err = e.proveSigned(ctx, c, &p, sts, now)
		return m != key.NoMatch, err
	})
	switch {
	case err != nil:
		// proveSigned names the secret store; anything else is the key's.
		return d, unavailable(StoreKeys, err)
	case k == nil:
		d.Code = key.CodeNotFound
		return d, nil
	case !inWindow:
		d.Code = key.CodeTimestampWindow
		return d, nil
	case m == key.NoMatch:
		d.Code = key.CodeSignatureInvalid
		return d, nil
	}
	// Only a proven request spends its nonce, so garbage cannot fill the table.
	fresh, err := e.nonces.UseNonce(ctx, p.ClientID, p.Nonce, now, now.Add(NonceLifetime))
	if err != nil {
		return d, unavailable(StoreNonces, fmt.Errorf("use nonce of %s: %w", p.ClientID, err))
	}
	if !fresh {
		d.Code = key.CodeNonceReused
		return d, nil
	}
	return e.check(d, k, m, r, now), nil
}

// proveSigned checks the signature, over any of the strings to sign (one per
// form of the path), against the current secret and, inside a grace period,
// the previous one. A revoked key's secret is destroyed, so nothing it signs
// can be proven.
func (e *Engine) proveSigned(ctx context.Context, k *key.Key, p *signature.Parsed, sts []string, now time.Time) (key.SecretMatch, error) {
	if k.Status == key.StatusRevoked {
		return key.NoMatch, nil
	}
	cur, err := e.secretOf(ctx, k.ID, k.SecretVersionID)
	if err != nil {
		return key.NoMatch, unavailable(StoreSecrets, err)
	}
	// A destroyed version has no secret; never verify with an empty key.
	if cur != nil && verifyAny(p, cur, sts) {
		return key.MatchCurrent, nil
	}
	if k.InGrace(now) && k.PrevSecretVersionID != "" {
		prev, err := e.secretOf(ctx, k.ID, k.PrevSecretVersionID)
		if err != nil {
			return key.NoMatch, unavailable(StoreSecrets, err)
		}
		if prev != nil && verifyAny(p, prev, sts) {
			return key.MatchPrevious, nil
		}
	}
	return key.NoMatch, nil
}

// verifyAny reports whether the signature was made with secret over any of
// the strings to sign.
func verifyAny(p *signature.Parsed, secret []byte, sts []string) bool {
	for _, s := range sts {
		if p.Verify(secret, s) {
			return true
		}
	}
	return false
}

func (e *Engine) check(d Decision, k *key.Key, m key.SecretMatch, r Request, now time.Time) Decision {
	need := r.Need
	need.Mode = d.Mode
	d.Key, d.SecretVersion = k, k.MatchedVersion(m)
	d.Code = k.Check(need, now)
	return d
}

type cachedKey struct {
	k        *key.Key
	at       time.Time
	reloaded bool // read again because a secret did not match the copy before it
}

// secretSet holds the secret versions of one key read so far.
type secretSet struct {
	mu sync.Mutex
	m  map[string][]byte
}

// withKey finds the key and passes it to prove, which reports whether the
// caller proved they hold its secret. When a cached key was not proven and
// was not itself re-read in the last refreshAfter, the key is read again and
// proven once more, so a secret issued since it was cached is not refused.
// d records the client ID's cache use; a key that does not exist leaves
// prove uncalled.
func (e *Engine) withKey(ctx context.Context, id string, now time.Time, d *Decision, prove func(*key.Key) (bool, error)) error {
	e.follow(ctx)
	c, hit, err := e.key(ctx, id, false)
	k := c.k
	d.CacheHit = hit
	if hit {
		e.stats.Hits.Add(1)
	} else {
		e.stats.Misses.Add(1)
	}
	if err != nil || k == nil {
		return err
	}
	ok, err := prove(k)
	if ok || err != nil || !hit || c.reloaded && now.Sub(c.at) < refreshAfter {
		return err
	}
	f, _, err := e.key(ctx, id, true)
	fresh := f.k
	if err != nil || fresh == nil || fresh.Revision == k.Revision {
		return err
	}
	_, err = prove(fresh)
	return err
}

// key returns the key with this client ID (c.k is nil if there is none),
// with when it was read, and whether it came from the cache; reload skips
// the cache.
func (e *Engine) key(ctx context.Context, id string, reload bool) (cachedKey, bool, error) {
	now := e.Now()
	if !reload {
		if c, ok := e.known.Get(id, now); ok {
			return c, true, nil
		}
		if _, ok := e.unknown.Get(id, now); ok {
			return cachedKey{}, true, nil
		}
	}
	v, err, _ := e.flight.Do(id, func() (any, error) {
		// Shared by every caller waiting on this ID, so no one caller's
		// cancellation fails the others.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fetchTimeout)
		defer cancel()
		k, err := e.keys.GetKey(ctx, id)
		switch {
		case errors.Is(err, key.ErrNotFound):
			if !e.noCache {
				e.unknown.Add(id, struct{}{}, e.Now())
			}
			return cachedKey{}, nil
		case err != nil:
			return nil, fmt.Errorf("get key %s: %w", id, err)
		}
		c := cachedKey{k: k, at: e.Now(), reloaded: reload}
		// A read that began before a change the feed has already shown
		// returns the old revision: use it once, never cache it.
		if newest, seen := e.newest.Get(id, c.at); !e.noCache && (!seen || k.Revision >= newest) {
			e.known.Add(id, c, c.at)
		}
		return c, nil
	})
	if err != nil {
		return cachedKey{}, false, err
	}
	return v.(cachedKey), false, nil
}

func (e *Engine) secretOf(ctx context.Context, id, versionID string) ([]byte, error) {
	now := e.Now()
	set, ok := e.secret.Get(id, now)
	if ok {
		set.mu.Lock()
		b, found := set.m[versionID]
		set.mu.Unlock()
		if found {
			return b, nil
		}
	}
	s, err := e.secrets.Get(ctx, id, versionID)
	if errors.Is(err, key.ErrNotFound) {
		return nil, nil // a destroyed version proves nothing
	}
	if err != nil {
		return nil, fmt.Errorf("get secret of %s: %w", id, err)
	}
	b := []byte(s)
	if e.noCache {
		return b, nil
	}
	if !ok {
		set = &secretSet{m: map[string][]byte{}}
		e.secret.Add(id, set, now)
	}
	set.mu.Lock()
	set.m[versionID] = b
	set.mu.Unlock()
	return b, nil
}

// follow asks the change feed what changed since the last look, at most once
// per PollInterval, and drops those keys and their secrets from the caches.
// A look that fails drops the whole cache, so a feed that cannot be read
// makes every decision read the store (and fail if it cannot): never an
// Allow on doubt.
func (e *Engine) follow(ctx context.Context) {
	if e.feed == nil || e.noCache {
		return
	}
	if last := e.lastPoll.Load(); last != 0 && time.Now().UnixNano()-last < int64(PollInterval) {
		return
	}
	if !e.pollMu.TryLock() {
		// Another caller is looking. Go on without waiting while the last
		// look is recent enough to keep the promise; otherwise wait for it.
		if last := e.lastPoll.Load(); last != 0 && time.Now().UnixNano()-last < int64(maxLag) {
			return
		}
		e.pollMu.Lock()
	}
	defer e.pollMu.Unlock()
	start := time.Now()
	last := e.lastPoll.Load()
	switch {
	case last != 0 && start.UnixNano()-last < int64(PollInterval):
		return // another caller just looked
	case last == 0 || start.UnixNano()-last > int64(feedTrustFor):
		// Nothing cached can be trusted, or nothing is cached yet (the
		// first look): start from now.
		e.purge()
		e.lastPoll.Store(start.UnixNano())
		return
	}
	e.stats.Polls.Add(1)
	entries, complete, err := e.feed.Changes(ctx, time.Unix(0, last).Add(-feedOverlap))
	if err != nil || !complete {
		if err != nil {
			e.stats.PollErrors.Add(1)
		}
		e.purge()
		if err == nil {
			e.lastPoll.Store(start.UnixNano())
		}
		return
	}
	e.stats.FeedEntries.Add(int64(len(entries)))
	now, seen := e.Now(), time.Now()
	for _, c := range entries {
		if n, ok := e.newest.Get(c.ClientID, now); !ok || c.Revision > n {
			e.newest.Add(c.ClientID, c.Revision, now)
			e.stats.lag(seen.Sub(c.At))
		}
		e.unknown.Remove(c.ClientID)
		if k, ok := e.known.Get(c.ClientID, now); ok && k.k.Revision >= c.Revision {
			continue // this copy already has the change
		}
		if e.known.Remove(c.ClientID) {
			e.stats.Dropped.Add(1)
		}
		e.secret.Remove(c.ClientID)
	}
	e.lastPoll.Store(start.UnixNano())
}

// purge drops every cached key, unknown ID and secret.
func (e *Engine) purge() {
	e.stats.Purges.Add(1)
	e.known.Purge()
	e.unknown.Purge()
	e.secret.Purge()
}

// ParseIP parses a source address, returning the zero Addr when it is not one.
func ParseIP(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
