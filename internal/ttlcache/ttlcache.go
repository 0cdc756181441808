package authz

import (
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// ttlCache is a bounded LRU whose entries end after a TTL, checked when they
// are read: no goroutine sweeps it, so an idle container does no work.
type ttlCache[V any] struct {
	c   *lru.Cache[string, ttlEntry[V]]
	ttl time.Duration
}

type ttlEntry[V any] struct {
	v     V
	until time.Time
}

func newTTLCache[V any](size int, ttl time.Duration) *ttlCache[V] {
	c, err := lru.New[string, ttlEntry[V]](size)
	if err != nil {
		panic(err) // only for a size below 1, which New never passes
	}
	return &ttlCache[V]{c: c, ttl: ttl}
}

// get returns the entry unless it has ended at now.
func (t *ttlCache[V]) get(k string, now time.Time) (V, bool) {
	e, ok := t.c.Get(k)
	if !ok || !now.Before(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (t *ttlCache[V]) add(k string, v V, now time.Time) {
	t.c.Add(k, ttlEntry[V]{v: v, until: now.Add(t.ttl)})
}

// remove drops an entry, reporting whether there was one.
func (t *ttlCache[V]) remove(k string) bool { return t.c.Remove(k) }

func (t *ttlCache[V]) purge() { t.c.Purge() }
