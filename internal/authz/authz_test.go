package authz

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// fakes count their calls; err makes every call fail.
type fakeKeys struct {
	keys  map[string]*key.Key
	calls atomic.Int64
	err   error
	delay time.Duration
}

func (f *fakeKeys) GetKey(ctx context.Context, id string) (*key.Key, error) {
	f.calls.Add(1)
	if f.delay > 0 {
		select {
		case <-ctx.Done(): // as the store's calls do
			return nil, ctx.Err()
		case <-time.After(f.delay):
		}
	}
	if f.err != nil {
		return nil, f.err
	}
	if k, ok := f.keys[id]; ok {
		return k, nil
	}
	return nil, key.NotFound("key", id)
}

type fakeSecrets struct {
	values map[string]string
	calls  atomic.Int64
}

func (f *fakeSecrets) Get(_ context.Context, _, versionID string) (string, error) {
	f.calls.Add(1)
	if v, ok := f.values[versionID]; ok {
		return v, nil
	}
	return "", key.NotFound("secret version", versionID)
}

type fakeNonces struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (f *fakeNonces) UseNonce(_ context.Context, id, nonce string, _, _ time.Time) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.seen[id+nonce] {
		return false, nil
	}
	f.seen[id+nonce] = true
	return true, nil
}

type fixture struct {
	e       *Engine
	keys    *fakeKeys
	secrets *fakeSecrets
	k       *key.Key
	secret  string
	need    key.Requirement
}

func newFixture(t testing.TB) *fixture {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	iss, err := key.New(key.NewParams{
		MerchantID: "m_1", Name: "checkout", Environment: key.EnvTest,
		Scopes: []string{"payments:read", "payments:write"}, AllowedIPs: []string{"192.0.2.0/24"},
	}, "11111111-2222-4333-8444-555555555555", now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		keys:    &fakeKeys{keys: map[string]*key.Key{iss.Key.ID: iss.Key}},
		secrets: &fakeSecrets{values: map[string]string{iss.Key.SecretVersionID: iss.Secret}},
		k:       iss.Key, secret: iss.Secret,
		need: key.Requirement{Environment: key.EnvTest, SourceIP: netip.MustParseAddr("192.0.2.10"), CheckIP: true, Scope: "payments:write"},
	}
	f.e = New(f.keys, f.secrets, &fakeNonces{seen: map[string]bool{}}, Options{})
	f.e.Now = func() time.Time { return now }
	return f
}

const query = "currency=eur&expand=customer"

func (f *fixture) signed(nonce string) Request {
	ts := "1795428000" // 2026-11-23T10:00:00Z
	hash := signature.ContentSHA256([]byte(`{"amount":1000}`))
	sts := signature.StringToSign("POST", "/demo/charges", query, ts, nonce, hash)
	return Request{
		HMAC: signature.Headers{ClientID: f.k.ID, Timestamp: ts, Nonce: nonce, ContentSHA256: hash,
			Signature: "v1=" + signature.Sign(f.secret, sts)},
		Method: "POST", Path: "/demo/charges", CanonicalQuery: query, Need: f.need,
	}
}

func TestDecideBearerAndSigned(t *testing.T) {
	f := newFixture(t)
	d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need})
	if err != nil || d.Code != key.CodeValid || d.Key == nil || d.SecretVersion != 1 || d.Mode != key.ModeBearer {
		t.Fatalf("bearer: %+v %v", d, err)
	}
	d, err = f.e.Decide(context.Background(), f.signed("nonce-0123456789abcdef"))
	if err != nil || d.Code != key.CodeValid || d.Mode != key.ModeHMAC {
		t.Fatalf("signed: %+v %v", d, err)
	}
	d, _ = f.e.Decide(context.Background(), f.signed("nonce-0123456789abcdef"))
	if d.Code != key.CodeNonceReused {
		t.Fatalf("replay: %s", d.Code)
	}
	if d, _ := f.e.Decide(context.Background(), Request{}); d.Code != key.CodeMalformed {
		t.Fatalf("nothing presented: %s", d.Code)
	}
}

func TestStoreErrorNeverAllows(t *testing.T) {
	f := newFixture(t)
	f.keys.err = errors.New("connection refused")
	d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need})
	if err == nil || d.Code == key.CodeValid {
		t.Fatalf("store down: %+v %v, want an error and no VALID", d, err)
	}
	// Errors are not cached: the next request tries again.
	f.keys.err = nil
	if d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need}); err != nil || d.Code != key.CodeValid {
		t.Fatalf("after recovery: %+v %v", d, err)
	}
}

// Concurrent misses for one key make one read. The read takes a second of
// synctest's clock, which moves only once every other decision is waiting:
// all 50 are under way while the first read is.
func TestConcurrentMissesShareOneRead(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.keys.delay = time.Second
		start := time.Now()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				if d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need}); err != nil || d.Code != key.CodeValid {
					t.Errorf("%+v %v", d, err)
				}
			})
		}
		wg.Wait()
		if n := f.keys.calls.Load(); n != 1 {
			t.Fatalf("50 concurrent misses made %d reads, want 1", n)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("the decisions took %v, want the one read's 1s", d)
		}
	})
}

// A read shared by several decisions is not cut short when the decision
// that started it is cancelled (its client went away): the others still
// get the key, from that one read.
func TestSharedReadOutlivesTheFirstCallersCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFixture(t)
		f.keys.delay = time.Second
		first, cancel := context.WithCancel(context.Background())
		go func() { _, _ = f.e.Decide(first, Request{Bearer: f.secret, Need: f.need}) }()
		time.Sleep(100 * time.Millisecond) // the first decision's read is under way
		var d Decision
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			d, err = f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need})
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-done
		if err != nil || d.Code != key.CodeValid {
			t.Fatalf("the waiting decision: %+v, %v; want VALID", d, err)
		}
		if n := f.keys.calls.Load(); n != 1 {
			t.Fatalf("%d reads, want the one shared", n)
		}
	})
}

func TestDisabledCacheReadsEveryTime(t *testing.T) {
	f := newFixture(t)
	f.e = New(f.keys, f.secrets, &fakeNonces{seen: map[string]bool{}}, Options{CacheTTL: -1})
	for range 3 {
		f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need})
	}
	if n := f.keys.calls.Load(); n != 3 {
		t.Fatalf("%d reads with the cache off, want 3", n)
	}
}

// The hot path, beside what it must stay within 10x of.
func BenchmarkSHA256(b *testing.B) {
	f := newFixture(b)
	s := []byte(f.secret)
	b.ReportAllocs()
	for b.Loop() {
		sha256.Sum256(s)
	}
}

func BenchmarkHMACSHA256(b *testing.B) {
	f := newFixture(b)
	r := f.signed("nonce-0123456789abcdef")
	p, _ := signature.Parse(r.HMAC)
	sts := signature.StringToSign(r.Method, r.Path, r.CanonicalQuery, p.TimestampRaw, p.Nonce, p.ContentSHA256)
	b.ReportAllocs()
	for b.Loop() {
		m := hmac.New(sha256.New, []byte(f.secret))
		m.Write([]byte(sts))
		m.Sum(nil)
	}
}

func BenchmarkDecideBearerCached(b *testing.B) {
	f := newFixture(b)
	r := Request{Bearer: f.secret, Need: f.need}
	f.e.Decide(context.Background(), r) // warm the cache
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := f.e.Decide(context.Background(), r); d.Code != key.CodeValid {
			b.Fatal(d.Code)
		}
	}
}

// BenchmarkDecideHMACCached measures a signed request with a warm cache and
// an in-memory nonce check (the real one is one conditional PutItem).
func BenchmarkDecideHMACCached(b *testing.B) {
	f := newFixture(b)
	f.e.nonces = alwaysFresh{}
	r := f.signed("nonce-0123456789abcdef")
	f.e.Decide(context.Background(), r)
	b.ReportAllocs()
	for b.Loop() {
		if d, _ := f.e.Decide(context.Background(), r); d.Code != key.CodeValid {
			b.Fatal(d.Code)
		}
	}
}

type alwaysFresh struct{}

func (alwaysFresh) UseNonce(context.Context, string, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

// A secret issued after the key was cached works at once, for bearer and
// signed requests alike; an unproven secret costs at most one extra read per
// key per second.
func TestNewSecretRefreshesCachedKey(t *testing.T) {
	tests := []struct {
		name    string
		request func(f *fixture, nonce string) Request
	}{
		{"bearer", func(f *fixture, _ string) Request { return Request{Bearer: f.secret, Need: f.need} }},
		{"signed", func(f *fixture, nonce string) Request { return f.signed(nonce) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			now := f.e.Now()
			clock := now
			f.e.Now = func() time.Time { return clock }
			ctx := context.Background()
			if d, _ := f.e.Decide(ctx, tt.request(f, "nonce-aaaaaaaaaaaaaaaa")); d.Code != key.CodeValid {
				t.Fatalf("before reset: %s", d.Code)
			}
			iss, err := f.k.Reset(key.DefaultBrand, 0, "99999999-2222-4333-8444-555555555555", now)
			if err != nil {
				t.Fatal(err)
			}
			next := iss.Key
			next.Revision++
			f.keys.keys[f.k.ID] = next
			f.secrets.values[next.SecretVersionID] = iss.Secret
			f.secret = iss.Secret
			reads := f.keys.calls.Load()

			// The new secret works at once, with one read, however young the
			// cached copy.
			d, err := f.e.Decide(ctx, tt.request(f, "nonce-bbbbbbbbbbbbbbbb"))
			if err != nil || d.Code != key.CodeValid || d.SecretVersion != 2 {
				t.Fatalf("right after the reset: %+v %v", d, err)
			}
			if got := f.keys.calls.Load() - reads; got != 1 {
				t.Errorf("reads = %d, want 1", got)
			}
			// The refreshed copy is the cache's now: well-formed garbage for
			// the same key re-reads at most once a second.
			body := "paykeys_sk_test_" + next.ID[len("ck_test_"):] + strings.Repeat("0", 33)
			garbage := Request{Bearer: body + key.Checksum(body), Need: f.need}
			if _, ok := key.DefaultBrand.ParseSecret(garbage.Bearer); !ok {
				t.Fatal("the garbage secret is not well formed")
			}
			for range 5 {
				if d, _ := f.e.Decide(ctx, garbage); d.Code != key.CodeNotFound {
					t.Fatalf("garbage: %s", d.Code)
				}
			}
			if got := f.keys.calls.Load() - reads; got != 1 {
				t.Errorf("reads after garbage = %d, want 1", got)
			}
			clock = now.Add(refreshAfter)
			for range 5 {
				f.e.Decide(ctx, garbage)
			}
			if got := f.keys.calls.Load() - reads; got != 2 {
				t.Errorf("reads after garbage a second later = %d, want 2", got)
			}
		})
	}
}

// An engine accepts secrets of its own brand only: another brand's, or the
// unbranded form, is MALFORMED with no read, though its checksum holds.
func TestBrandIsTheDeployments(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	iss, err := key.New(key.NewParams{MerchantID: "m_1", Name: "k", Environment: key.EnvTest,
		Scopes: []string{"payments:write"}, Brand: "acme"}, "v-1", now)
	if err != nil {
		t.Fatal(err)
	}
	keys := &fakeKeys{keys: map[string]*key.Key{iss.Key.ID: iss.Key}}
	e := New(keys, &fakeSecrets{}, &fakeNonces{seen: map[string]bool{}}, Options{Brand: "acme"})
	e.Now = func() time.Time { return now }
	need := key.Requirement{Environment: key.EnvTest, Scope: "payments:write"}
	if d, err := e.DecideBearer(context.Background(), iss.Secret, need); err != nil || d.Code != key.CodeValid {
		t.Fatalf("acme secret at an acme engine: %+v %v", d, err)
	}
	reads := keys.calls.Load()
	tail := iss.Secret[len("acme_sk_test_") : len(iss.Secret)-6]
	for _, prefix := range []string{"paykeys_sk_test_", "sk_test_"} {
		forged := prefix + tail + key.Checksum(prefix+tail)
		if d, _ := e.DecideBearer(context.Background(), forged, need); d.Code != key.CodeMalformed {
			t.Errorf("%s… at an acme engine: %s", prefix, d.Code)
		}
	}
	if got := keys.calls.Load() - reads; got != 0 {
		t.Errorf("foreign brands cost %d reads", got)
	}
}
