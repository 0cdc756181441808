// Package ttlcache is a bounded LRU whose entries end after a TTL, checked
// when they are read: no goroutine sweeps it, so an idle container does no
// work and nothing is left running.
package ttlcache

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// Cache maps strings to values of type V. It is safe for concurrent use.
type Cache[V any] struct {
	c   *lru.Cache[string, entry[V]]
	ttl time.Duration
}

type entry[V any] struct {
	v     V
	until time.Time
}

// New returns a Cache of at most size entries (at least 1), each kept for ttl.
func New[V any](size int, ttl time.Duration) *Cache[V] {
	c, err := lru.New[string, entry[V]](max(size, 1))
	if err != nil {
		panic(err) // lru.New fails only for a size below 1
	}
	return &Cache[V]{c: c, ttl: ttl}
}

// Get returns the entry unless it has ended at now.
func (t *Cache[V]) Get(k string, now time.Time) (V, bool) {
	e, ok := t.c.Get(k)
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// Add keeps v under k until now plus the TTL, evicting the least recently
// used entry when the cache is full.
func (t *Cache[V]) Add(k string, v V, now time.Time) {
	t.c.Add(k, entry[V]{v: v, until: now.Add(t.ttl)})
}

// Remove drops an entry, reporting whether there was one.
func (t *Cache[V]) Remove(k string) bool { return t.c.Remove(k) }

// Purge drops every entry.
func (t *Cache[V]) Purge() { t.c.Purge() }

// Len is how many entries are held, ended ones included until they are read
// or evicted.
func (t *Cache[V]) Len() int { return t.c.Len() }
