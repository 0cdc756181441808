package ttlcache

import (
	"testing"
	"testing/synctest"
	"time"
)

func TestGetEndsAtTTL(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		at   time.Duration // after the Add
		want bool
	}{
		{"at once", 0, true},
		{"just before the TTL", time.Minute - time.Nanosecond, true},
		{"at the TTL", time.Minute, false},
		{"after the TTL", time.Hour, false},
		{"a clock that went back", -time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[int](10, time.Minute)
			c.Add("k", 7, t0)
			v, ok := c.Get("k", t0.Add(tt.at))
			if ok != tt.want || ok && v != 7 || !ok && v != 0 {
				t.Errorf("Get = %d, %v; want found %v", v, ok, tt.want)
			}
		})
	}
}

func TestBoundAndRemoval(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name    string
		do      func(c *Cache[string])
		present map[string]bool
	}{
		{"the least recently used goes first", func(c *Cache[string]) {
			c.Add("a", "1", now)
			c.Add("b", "2", now)
			c.Get("a", now) // a is now the most recent
			c.Add("c", "3", now)
		}, map[string]bool{"a": true, "b": false, "c": true}},
		{"remove", func(c *Cache[string]) {
			c.Add("a", "1", now)
			c.Add("b", "2", now)
			if !c.Remove("a") || c.Remove("a") {
				t.Error("Remove reported wrongly")
			}
		}, map[string]bool{"a": false, "b": true}},
		{"purge", func(c *Cache[string]) {
			c.Add("a", "1", now)
			c.Add("b", "2", now)
			c.Purge()
		}, map[string]bool{"a": false, "b": false}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[string](2, time.Hour)
			tt.do(c)
			for k, want := range tt.present {
				if _, ok := c.Get(k, now); ok != want {
					t.Errorf("%s present = %v, want %v", k, ok, want)
				}
			}
			if c.Len() > 2 {
				t.Errorf("Len = %d, above the bound", c.Len())
			}
		})
	}
}

// A cache starts nothing in the background: the caches are made in
// synctest's bubble, which fails the test if any goroutine of the bubble is
// left when it ends. Their entries end on the bubble's clock, read at Get,
// with no sweeper.
func TestEntriesEndWithoutAGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		caches := make([]*Cache[int], 100)
		for i := range caches {
			caches[i] = New[int](10, time.Minute)
			caches[i].Add("k", i, time.Now())
		}
		time.Sleep(time.Minute - time.Nanosecond)
		for i, c := range caches {
			if v, ok := c.Get("k", time.Now()); !ok || v != i {
				t.Fatalf("cache %d: Get = %d, %v before the TTL", i, v, ok)
			}
		}
		time.Sleep(time.Nanosecond)
		for i, c := range caches {
			if _, ok := c.Get("k", time.Now()); ok {
				t.Fatalf("cache %d: an entry outlived its TTL", i)
			}
			if c.Len() != 1 {
				t.Fatalf("cache %d holds %d entries: something swept it", i, c.Len())
			}
		}
	})
}
