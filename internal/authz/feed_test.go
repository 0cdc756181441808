package authz

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/paykeys/paykeys/internal/key"
)

// fakeFeed answers with entries and records what it was asked.
type fakeFeed struct {
	block    chan struct{} // when set, Changes says so on entered and waits for it to close
	entered  chan struct{}
	mu       sync.Mutex
	entries  []key.FeedEntry
	err      error
	complete bool
	since    []time.Time
}

func (f *fakeFeed) Changes(_ context.Context, since time.Time) ([]key.FeedEntry, bool, error) {
	if f.block != nil {
		f.entered <- struct{}{}
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.since = append(f.since, since)
	return f.entries, f.complete, f.err
}

func (f *fakeFeed) looks() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.since) }

// feedFixture is a fixture whose engine follows a fake feed. Its tests run
// in synctest's bubble: the feed's clock is the bubble's, which moves only
// when the test sleeps, and a sleep takes no real time.
func feedFixture(t *testing.T) (*fixture, *fakeFeed) {
	f := newFixture(t)
	feed := &fakeFeed{complete: true}
	decisionTime := f.e.Now
	f.e = New(f.keys, f.secrets, &fakeNonces{seen: map[string]bool{}}, Options{CacheTTL: time.Hour, Feed: feed})
	f.e.Now = decisionTime
	return f, feed
}

func (f *fixture) decide(t *testing.T) Decision {
	t.Helper()
	d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// The feed is read at most once per PollInterval, from before the previous
// look, and an entry newer than the cached key drops it.
func TestFeedDropsChangedKeys(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, feed := feedFixture(t)
		first := time.Now()
		f.decide(t) // first look: starts following, reads nothing
		if feed.looks() != 0 {
			t.Fatalf("the first decision read the feed %d times", feed.looks())
		}
		for range 10 {
			time.Sleep(PollInterval / 20)
			if d := f.decide(t); d.Code != key.CodeValid || !d.CacheHit {
				t.Fatalf("cached decision: %+v", d)
			}
		}
		if feed.looks() != 0 {
			t.Fatalf("feed read %d times within one interval", feed.looks())
		}

		// A change: the stored key is disabled at revision 2.
		changed := f.k.Clone()
		changed.Status, changed.Revision = key.StatusDisabled, f.k.Revision+1
		f.keys.keys[f.k.ID] = changed
		time.Sleep(PollInterval / 2)
		feed.entries = []key.FeedEntry{{ClientID: f.k.ID, Revision: changed.Revision, At: time.Now()}}
		if d := f.decide(t); d.Code != key.CodeDisabled || d.CacheHit {
			t.Fatalf("after the feed showed a change: %+v", d)
		}
		if feed.looks() != 1 || !feed.since[0].Equal(first.Add(-feedOverlap)) {
			t.Fatalf("looks %v, want one from %v", feed.since, first.Add(-feedOverlap))
		}
		// The same entry again (the look overlaps the previous one) drops
		// nothing: the cached copy already has it.
		time.Sleep(PollInterval)
		reads := f.keys.calls.Load()
		if d := f.decide(t); d.Code != key.CodeDisabled || !d.CacheHit || f.keys.calls.Load() != reads {
			t.Fatalf("an entry the cache already had dropped the key: %+v", d)
		}
		if feed.looks() != 2 || !feed.since[1].Equal(first.Add(PollInterval-feedOverlap)) {
			t.Fatalf("looks %v, the second from %v", feed.since, first.Add(PollInterval-feedOverlap))
		}
		if got := f.e.Stats().Dropped.Load(); got != 1 {
			t.Errorf("dropped %d keys, want 1", got)
		}
	})
}

// A feed that cannot be read, or that had more than one read returns, drops
// the whole cache: the next decision reads the store, and a store that is
// down too is an error, never an Allow.
func TestFeedTroubleDropsTheCache(t *testing.T) {
	for _, tt := range []struct {
		name string
		set  func(*fakeFeed)
	}{
		{"error", func(f *fakeFeed) { f.err = errors.New("throttled") }},
		{"incomplete", func(f *fakeFeed) { f.complete = false }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f, feed := feedFixture(t)
				f.decide(t)
				tt.set(feed)
				time.Sleep(PollInterval)
				f.keys.err = errors.New("dynamodb down")
				if d, err := f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need}); err == nil || d.Code == key.CodeValid {
					t.Fatalf("allowed on a cache the feed could not vouch for: %+v %v", d, err)
				}
				if feed.looks() != 1 {
					t.Fatalf("%d looks, want 1", feed.looks())
				}
			})
		})
	}
}

// A container frozen for longer than the feed is trusted drops its cache
// instead of reading the feed from its last look.
func TestLongGapDropsTheCache(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, feed := feedFixture(t)
		f.decide(t)
		time.Sleep(feedTrustFor + time.Second)
		reads := f.keys.calls.Load()
		if d := f.decide(t); d.CacheHit || f.keys.calls.Load() != reads+1 {
			t.Fatalf("a cache older than the feed's memory was used: %+v", d)
		}
		if feed.looks() != 0 {
			t.Fatalf("read the feed %d times across the gap", feed.looks())
		}
	})
}

// A read of the key that began before a change the feed has shown returns
// the old revision: it is used once but not cached.
func TestStaleReadIsNotCached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f, feed := feedFixture(t)
		f.decide(t)
		time.Sleep(PollInterval)
		feed.entries = []key.FeedEntry{{ClientID: f.k.ID, Revision: f.k.Revision + 1}}
		// The store still answers the old revision, as a read that raced the
		// change would.
		f.decide(t)
		time.Sleep(PollInterval / 2) // no new look
		if d := f.decide(t); d.CacheHit {
			t.Fatal("a revision older than the feed's was cached")
		}
		if feed.looks() != 1 {
			t.Fatalf("%d looks, want 1", feed.looks())
		}
	})
}

// A slow look at the feed does not hold up other decisions while the last
// complete look is recent enough to keep the promise. A decision that waited
// would wait on a lock, past which synctest's clock cannot move; so a
// watchdog outside the bubble, on real time, ends the look if the decision
// has not returned by then, and the test fails.
func TestSlowFeedDoesNotBlock(t *testing.T) {
	release := make(chan struct{}) // made outside the bubble, so the watchdog may close it
	var once sync.Once
	var waited atomic.Bool
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-stop:
		case <-time.After(5 * time.Second):
			waited.Store(true)
			once.Do(func() { close(release) })
		}
	}()
	synctest.Test(t, func(t *testing.T) {
		f, feed := feedFixture(t)
		f.decide(t)
		time.Sleep(PollInterval)
		feed.block, feed.entered = release, make(chan struct{})
		looking := make(chan struct{})
		go func() {
			defer close(looking)
			f.e.Decide(context.Background(), Request{Bearer: f.secret, Need: f.need})
		}()
		<-feed.entered
		d := f.decide(t)
		if waited.Load() {
			t.Fatal("a decision waited for a look under way although the last one was recent")
		}
		if d.Code != key.CodeValid || !d.CacheHit {
			t.Errorf("decision beside a slow look: %+v", d)
		}
		once.Do(func() { close(release) })
		<-looking
	})
}
