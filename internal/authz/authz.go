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
	"time"

	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
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

// refreshAfter is how old a cached key must be before a secret that does not
// match it makes the engine read the key again: a reset's new secret works at
// once, while garbage costs at most one read per key per interval.
const refreshAfter = time.Second

// NonceLifetime is how long a nonce is remembered: longer than the ±300 s
// window, so a replay inside the window is always caught.
const NonceLifetime = 600 * time.Second

// Options tune the engine.
type Options struct {
	CacheTTL    time.Duration // how long key metadata is trusted; default 30 s; negative: no cache
	NegativeTTL time.Duration // how long an unknown key is remembered; default 5 s
	CacheSize   int           // keys (and unknown IDs, and secrets) held at most; default 10000
}

// Engine decides. It is safe for concurrent use and meant to live for the
// whole life of a Lambda container.
type Engine struct {
	keys    Keys
	secrets Secrets
	nonces  Nonces
	Now     func() time.Time

	known   *expirable.LRU[string, cachedKey]
	unknown *expirable.LRU[string, struct{}]
	secret  *expirable.LRU[string, []byte] // version ID → secret, for signed requests
	flight  singleflight.Group
	noCache bool
}

// New returns an Engine reading through the given stores.
func New(keys Keys, secrets Secrets, nonces Nonces, o Options) *Engine {
	noCache := o.CacheTTL < 0
	if o.CacheTTL <= 0 {
		o.CacheTTL = 30 * time.Second
	}
	o.CacheTTL = max(o.CacheTTL, time.Millisecond) // the LRU's sweeper needs a positive tick
	if o.NegativeTTL == 0 {
		o.NegativeTTL = 5 * time.Second
	}
	if o.CacheSize == 0 {
		o.CacheSize = 10000
	}
	return &Engine{
		keys: keys, secrets: secrets, nonces: nonces, Now: time.Now, noCache: noCache,
		known:   expirable.NewLRU[string, cachedKey](o.CacheSize, nil, o.CacheTTL),
		unknown: expirable.NewLRU[string, struct{}](o.CacheSize, nil, o.NegativeTTL),
		// Secret versions never change; the key record says which ones count.
		secret: expirable.NewLRU[string, []byte](o.CacheSize, nil, 0),
	}
}

// Request is a request to decide on, as the caller saw it.
type Request struct {
	Bearer string            // the secret from X-API-Key or Authorization: Bearer
	HMAC   signature.Headers // the signed-request headers
	// For signed requests: the method, the path as sent, and the canonical query.
	Method, Path, CanonicalQuery string
	// QueryErr is set when the query could not be canonicalised.
	QueryErr error
	// Conflict is set when the request presented more than one credential,
	// or one credential header with two different values: the request is
	// MALFORMED whatever else it carries, and no store is read.
	Conflict bool
	Need     key.Requirement // Mode is filled in by Decide
}

// Decision is the outcome. Key is set once the caller proved it holds the
// key's secret (even when the decision is a deny); SecretVersion is the
// version that matched.
type Decision struct {
	Code          key.Code
	Key           *key.Key
	ClientID      string
	Mode          key.AuthMode
	SecretVersion int
	CacheHit      bool
}

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
	var d Decision
	var err error
	switch {
	case r.Conflict || r.Bearer != "" && hmacPresent:
		return Decision{Code: key.CodeMalformed}, nil // exactly one credential per request
	case r.Bearer != "":
		d, err = e.bearer(ctx, r)
	case hmacPresent:
		d, err = e.signed(ctx, r)
	default:
		return Decision{Code: key.CodeMalformed}, nil
	}
	if err != nil {
		// An outage proves nothing either way: not a wrong secret, not a bad
		// signature, not a replay.
		d.Code, d.Key, d.SecretVersion = CodeStoreUnavailable, nil, 0
	}
	return d, err
}

func (e *Engine) bearer(ctx context.Context, r Request) (Decision, error) {
	d := Decision{Mode: key.ModeBearer}
	parsed, ok := key.ParseSecret(r.Bearer)
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
	sts := signature.StringToSign(r.Method, r.Path, r.CanonicalQuery, p.TimestampRaw, p.Nonce, p.ContentSHA256)
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

// proveSigned checks the signature against the current secret and, inside a
// grace period, the previous one. A revoked key's secret is destroyed, so
// nothing it signs can be proven.
func (e *Engine) proveSigned(ctx context.Context, k *key.Key, p *signature.Parsed, sts string, now time.Time) (key.SecretMatch, error) {
	if k.Status == key.StatusRevoked {
		return key.NoMatch, nil
	}
	cur, err := e.secretOf(ctx, k.ID, k.SecretVersionID)
	if err != nil {
		return key.NoMatch, unavailable(StoreSecrets, err)
	}
	// A destroyed version has no secret; never verify with an empty key.
	if cur != nil && p.Verify(cur, sts) {
		return key.MatchCurrent, nil
	}
	if k.InGrace(now) && k.PrevSecretVersionID != "" {
		prev, err := e.secretOf(ctx, k.ID, k.PrevSecretVersionID)
		if err != nil {
			return key.NoMatch, unavailable(StoreSecrets, err)
		}
		if prev != nil && p.Verify(prev, sts) {
			return key.MatchPrevious, nil
		}
	}
	return key.NoMatch, nil
}

func (e *Engine) check(d Decision, k *key.Key, m key.SecretMatch, r Request, now time.Time) Decision {
	need := r.Need
	need.Mode = d.Mode
	d.Key, d.SecretVersion = k, k.MatchedVersion(m)
	d.Code = k.Check(need, now)
	return d
}

type cachedKey struct {
	k  *key.Key
	at time.Time
}

// withKey finds the key and passes it to prove, which reports whether the
// caller proved they hold its secret. When a cached key was not proven and
// is older than refreshAfter, the key is read again and proven once more, so
// a secret issued since it was cached is not refused. d records the client
// ID's cache use; a key that does not exist leaves prove uncalled.
func (e *Engine) withKey(ctx context.Context, id string, now time.Time, d *Decision, prove func(*key.Key) (bool, error)) error {
	k, at, hit, err := e.key(ctx, id, false)
	d.CacheHit = hit
	if err != nil || k == nil {
		return err
	}
	ok, err := prove(k)
	if ok || err != nil || !hit || now.Sub(at) < refreshAfter {
		return err
	}
	fresh, _, _, err := e.key(ctx, id, true)
	if err != nil || fresh == nil || fresh.Revision == k.Revision {
		return err
	}
	_, err = prove(fresh)
	return err
}

// key returns the key with this client ID, nil if there is none, with when
// it was read; reload skips the cache.
func (e *Engine) key(ctx context.Context, id string, reload bool) (*key.Key, time.Time, bool, error) {
	if !reload {
		if c, ok := e.known.Get(id); ok {
			return c.k, c.at, true, nil
		}
		if _, ok := e.unknown.Get(id); ok {
			return nil, time.Time{}, true, nil
		}
	}
	v, err, _ := e.flight.Do(id, func() (any, error) {
		k, err := e.keys.GetKey(ctx, id)
		switch {
		case errors.Is(err, key.ErrNotFound):
			if !e.noCache {
				e.unknown.Add(id, struct{}{})
			}
			return cachedKey{}, nil
		case err != nil:
			return nil, fmt.Errorf("get key %s: %w", id, err)
		}
		c := cachedKey{k: k, at: e.Now()}
		if !e.noCache {
			e.known.Add(id, c)
		}
		return c, nil
	})
	if err != nil {
		return nil, time.Time{}, false, err
	}
	c := v.(cachedKey)
	return c.k, c.at, false, nil
}

func (e *Engine) secretOf(ctx context.Context, id, versionID string) ([]byte, error) {
	if s, ok := e.secret.Get(versionID); ok {
		return s, nil
	}
	s, err := e.secrets.Get(ctx, id, versionID)
	if errors.Is(err, key.ErrNotFound) {
		return nil, nil // a destroyed version proves nothing
	}
	if err != nil {
		return nil, fmt.Errorf("get secret of %s: %w", id, err)
	}
	b := []byte(s)
	e.secret.Add(versionID, b)
	return b, nil
}

// ParseIP parses a source address, returning the zero Addr when it is not one.
func ParseIP(s string) netip.Addr {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}
