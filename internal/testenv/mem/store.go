// Package mem holds in-memory stand-ins for the metadata store and the
// secret store, shared by the unit tests of every package that uses them
// (keysvc, webhooksvc, api), so that `go test` proves the order of writes
// and the handlers' answers without DynamoDB or a Secrets Manager emulator.
// The integration tests run the same code on the real stores.
//
// Only _test.go files import it.
package mem

import (
	"cmp"
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/store"
)

// Store is the metadata store in memory: keys, idempotency records, the
// audit log, webhook endpoints and deliveries, usage counters and rate
// limits. Its fields may be read and set by a test between calls.
//
// Fail makes a method (by name) return an error; Stale makes that many
// UpdateKey calls answer store.ErrStale; Check runs as a key or endpoint
// write commits, with the store's lock held, so a test can look at the
// secret store at the moment a record becomes visible.
type Store struct {
	mu sync.Mutex

	Keys       map[string]key.Key
	Idem       map[string]key.IdempotencyRecord
	Audit      []key.AuditRecord
	Events     []outbox.Event  // as written
	Pending    map[string]bool // IDs of events not fanned out yet
	Endpoints  map[string]hook.Endpoint
	Deliveries map[string]hook.Delivery // by endpoint ID + "/" + delivery ID
	Usage      map[string]map[string]key.UsageDay

	Fail          map[string]error
	Stale         int
	Check         func(k *key.Key)
	CheckEndpoint func(e *hook.Endpoint)
	Writes        int            // key writes committed
	Calls         map[string]int // calls by method name
	// Now is the clock idempotency records expire by; nil is time.Now.
	Now func() time.Time

	limits map[string][]time.Time
}

// NewStore returns an empty store.
func NewStore() *Store {
	return &Store{
		Keys: map[string]key.Key{}, Idem: map[string]key.IdempotencyRecord{},
		Endpoints: map[string]hook.Endpoint{}, Deliveries: map[string]hook.Delivery{},
		Usage: map[string]map[string]key.UsageDay{}, Fail: map[string]error{}, Pending: map[string]bool{},
		Calls: map[string]int{}, limits: map[string][]time.Time{},
	}
}

// call counts a call of method and returns its injected failure. The
// caller holds the lock.
func (m *Store) call(method string) error {
	m.Calls[method]++
	return m.Fail[method]
}

// Count returns how many times method was called.
func (m *Store) Count(method string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.Calls[method]
}

func idemKey(merchantID, subject, k string) string { return merchantID + "/" + subject + "/" + k }

func (m *Store) CreateKey(_ context.Context, k *key.Key, x outbox.Extras) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("CreateKey"); err != nil {
		return err
	}
	if m.Check != nil {
		m.Check(k)
	}
	if _, ok := m.Keys[k.ID]; ok {
		return store.ErrStale
	}
	if x.KeyLimit > 0 {
		n := 0
		for _, o := range m.Keys {
			if o.MerchantID == k.MerchantID && o.Status != key.StatusRevoked {
				n++
			}
		}
		if n >= x.KeyLimit {
			return store.ErrLimitReached
		}
	}
	if i := x.Idempotency; i != nil {
		if r, ok := m.Idem[idemKey(i.MerchantID, i.Subject, i.Key)]; ok && m.live(r) {
			return store.ErrIdempotencyTaken
		}
	}
	k.Revision = 1
	m.Keys[k.ID] = *k.Clone()
	m.extras(x)
	return nil
}

func (m *Store) GetKey(_ context.Context, id string) (*key.Key, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("GetKey"); err != nil {
		return nil, err
	}
	k, ok := m.Keys[id]
	if !ok {
		return nil, key.NotFound("key", id)
	}
	return k.Clone(), nil
}

// AttachLastUse leaves the keys as they are: the fake keeps a key's last
// use on the key itself.
func (m *Store) AttachLastUse(_ context.Context, _ ...*key.Key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.call("AttachLastUse")
}

func (m *Store) UpdateKey(_ context.Context, k *key.Key, x outbox.Extras) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("UpdateKey"); err != nil {
		return err
	}
	if m.Stale > 0 {
		m.Stale--
		return store.ErrStale
	}
	cur, ok := m.Keys[k.ID]
	if !ok || cur.Revision != k.Revision {
		return store.ErrStale
	}
	if m.Check != nil {
		m.Check(k)
	}
	k.Revision++
	m.Keys[k.ID] = *k.Clone()
	m.extras(x)
	return nil
}

func (m *Store) extras(x outbox.Extras) {
	m.Writes++
	if x.Audit != nil {
		m.Audit = append(m.Audit, *x.Audit)
	}
	for _, e := range x.Events {
		m.addEvent(e)
	}
	if i := x.Idempotency; i != nil {
		m.Idem[idemKey(i.MerchantID, i.Subject, i.Key)] = *i
	}
}

// ListKeys pages a merchant's keys newest first, as the real store does.
func (m *Store) ListKeys(_ context.Context, merchantID string, f key.ListFilter) ([]*key.Key, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("ListKeys"); err != nil {
		return nil, "", err
	}
	var all []*key.Key
	for _, k := range m.Keys {
		if k.MerchantID == merchantID && (f.Environment == "" || k.Environment == f.Environment) &&
			(f.Status == "" || k.EffectiveStatus(f.Now) == f.Status) {
			all = append(all, k.Clone())
		}
	}
	return page(all, "keys", merchantID, f.Limit, f.Cursor, func(k *key.Key) (time.Time, string) { return k.CreatedAt, k.ID })
}

func (m *Store) GetIdempotency(_ context.Context, merchantID, subject, k string) (*key.IdempotencyRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("GetIdempotency"); err != nil {
		return nil, err
	}
	i, ok := m.Idem[idemKey(merchantID, subject, k)]
	if !ok || !m.live(i) {
		return nil, key.NotFound("idempotency record", k)
	}
	return &i, nil
}

// live reports whether an idempotency record is still within its lifetime,
// as the DynamoDB store decides it.
func (m *Store) live(r key.IdempotencyRecord) bool {
	now := time.Now
	if m.Now != nil {
		now = m.Now
	}
	return now().Before(r.CreatedAt.Add(store.IdempotencyLifetime))
}

func (m *Store) PutAudit(_ context.Context, r *key.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("PutAudit"); err != nil {
		return err
	}
	m.Audit = append(m.Audit, *r)
	return nil
}

// RecordRefusal appends a refused change to the audit log (the real store
// coalesces them; the fake keeps each).
func (m *Store) RecordRefusal(_ context.Context, r *key.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("RecordRefusal"); err != nil {
		return err
	}
	m.Audit = append(m.Audit, *r)
	return nil
}

// ListAudit pages a merchant's audit records, newest first.
func (m *Store) ListAudit(_ context.Context, merchantID string, limit int, cur string) ([]key.AuditRecord, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("ListAudit"); err != nil {
		return nil, "", err
	}
	var all []*key.AuditRecord
	for _, r := range m.Audit {
		if r.MerchantID == merchantID {
			all = append(all, &r)
		}
	}
	out, next, err := page(all, "audit", merchantID, limit, cur, func(r *key.AuditRecord) (time.Time, string) { return r.CreatedAt, r.ID })
	recs := make([]key.AuditRecord, len(out))
	for i, r := range out {
		recs[i] = *r
	}
	return recs, next, err
}

// RateLimit allows limit calls per name in any window.
func (m *Store) RateLimit(_ context.Context, name string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("RateLimit"); err != nil {
		return false, 0, err
	}
	recent := slices.DeleteFunc(m.limits[name], func(t time.Time) bool { return !t.After(now.Add(-window)) })
	if len(recent) >= limit {
		m.limits[name] = recent
		return false, recent[0].Add(window).Sub(now), nil
	}
	m.limits[name] = append(recent, now)
	return true, 0, nil
}

// AddUsage adds day's counts to a key's usage.
func (m *Store) AddUsage(_ context.Context, clientID string, day key.UsageDay, _ string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("AddUsage"); err != nil {
		return err
	}
	if m.Usage[clientID] == nil {
		m.Usage[clientID] = map[string]key.UsageDay{}
	}
	d := m.Usage[clientID][day.Date]
	d.Date, d.Allowed = day.Date, d.Allowed+day.Allowed
	for c, n := range day.Denied {
		if d.Denied == nil {
			d.Denied = map[string]int64{}
		}
		d.Denied[c] += n
	}
	m.Usage[clientID][day.Date] = d
	return nil
}

// ListUsage returns a key's days from from to to, oldest first.
func (m *Store) ListUsage(_ context.Context, clientID, from, to string) ([]key.UsageDay, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("ListUsage"); err != nil {
		return nil, err
	}
	var out []key.UsageDay
	for date, d := range m.Usage[clientID] {
		if date >= from && date <= to {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b key.UsageDay) int { return strings.Compare(a.Date, b.Date) })
	return out, nil
}

// page returns up to limit of items newest first (by time, then ID), after
// cur. A cursor names the list's kind, its owner and the last item's ID, so
// that one issued for another list or owner is invalid, as in the real store.
func page[T any](items []*T, kind, owner string, limit int, cur string, order func(*T) (time.Time, string)) ([]*T, string, error) {
	if limit == 0 {
		limit = key.DefaultListLimit
	}
	if limit < 1 || limit > key.MaxListLimit {
		return nil, "", key.Invalid("limit must be an integer from 1 to %d", key.MaxListLimit)
	}
	slices.SortFunc(items, func(a, b *T) int {
		ta, ia := order(a)
		tb, ib := order(b)
		return cmp.Or(tb.Compare(ta), strings.Compare(ib, ia))
	})
	if cur != "" {
		raw, err := base64.RawURLEncoding.DecodeString(cur)
		k, o, last := strings.Cut(string(raw), "|")
		o, id, ok := strings.Cut(o, "|")
		if err != nil || !last || !ok || k != kind || o != owner {
			return nil, "", key.Invalid("cursor is not valid")
		}
		i := slices.IndexFunc(items, func(t *T) bool { _, x := order(t); return x == id })
		if i < 0 {
			return nil, "", key.Invalid("cursor is not valid")
		}
		items = items[i+1:]
	}
	if len(items) <= limit {
		return items, "", nil
	}
	_, last := order(items[limit-1])
	return items[:limit], base64.RawURLEncoding.EncodeToString([]byte(kind + "|" + owner + "|" + last)), nil
}
