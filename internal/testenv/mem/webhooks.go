package mem

import (
	"context"
	"slices"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/store"
)

// commitEndpoint writes e with its audit record. The caller holds the lock.
func (m *Store) commitEndpoint(e *hook.Endpoint, a *key.AuditRecord) {
	if m.CheckEndpoint != nil {
		m.CheckEndpoint(e)
	}
	e.Revision++
	m.Endpoints[e.ID] = *e
	if a != nil {
		m.Audit = append(m.Audit, *a)
	}
}

// CreateEndpoint adds an endpoint unless its merchant has limit already.
func (m *Store) CreateEndpoint(_ context.Context, e *hook.Endpoint, a *key.AuditRecord, limit int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("CreateEndpoint"); err != nil {
		return err
	}
	n := 0
	for _, o := range m.Endpoints {
		if o.MerchantID == e.MerchantID {
			n++
		}
	}
	if limit > 0 && n >= limit {
		return store.ErrLimitReached
	}
	m.commitEndpoint(e, a)
	return nil
}

// SaveEndpoint writes an endpoint read at its current revision.
func (m *Store) SaveEndpoint(_ context.Context, e *hook.Endpoint, a *key.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("SaveEndpoint"); err != nil {
		return err
	}
	if cur, ok := m.Endpoints[e.ID]; !ok || cur.Revision != e.Revision {
		return store.ErrStale
	}
	m.commitEndpoint(e, a)
	return nil
}

// DeleteEndpoint removes an endpoint and its deliveries.
func (m *Store) DeleteEndpoint(_ context.Context, e *hook.Endpoint, a *key.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("DeleteEndpoint"); err != nil {
		return err
	}
	if m.CheckEndpoint != nil {
		m.CheckEndpoint(e)
	}
	delete(m.Endpoints, e.ID)
	for id, d := range m.Deliveries {
		if d.EndpointID == e.ID {
			delete(m.Deliveries, id)
		}
	}
	m.Audit = append(m.Audit, *a)
	return nil
}

func (m *Store) GetEndpoint(_ context.Context, id string) (*hook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("GetEndpoint"); err != nil {
		return nil, err
	}
	e, ok := m.Endpoints[id]
	if !ok {
		return nil, key.NotFound("webhook endpoint", id)
	}
	return &e, nil
}

// ListEndpoints pages a merchant's endpoints, newest first.
func (m *Store) ListEndpoints(_ context.Context, merchantID string, limit int, cur string) ([]*hook.Endpoint, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("ListEndpoints"); err != nil {
		return nil, "", err
	}
	return page(m.endpointsOf(merchantID), "endpoints", merchantID, limit, cur,
		func(e *hook.Endpoint) (time.Time, string) { return e.CreatedAt, e.ID })
}

// AllEndpoints returns every endpoint of a merchant.
func (m *Store) AllEndpoints(_ context.Context, merchantID string) ([]*hook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("AllEndpoints"); err != nil {
		return nil, err
	}
	return m.endpointsOf(merchantID), nil
}

func (m *Store) endpointsOf(merchantID string) []*hook.Endpoint {
	var out []*hook.Endpoint
	for _, e := range m.Endpoints {
		if e.MerchantID == merchantID {
			out = append(out, &e)
		}
	}
	return out
}

// EndedOverlaps returns up to limit endpoints whose secret overlap ended by now.
func (m *Store) EndedOverlaps(_ context.Context, now time.Time, limit int) ([]*hook.Endpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("EndedOverlaps"); err != nil {
		return nil, err
	}
	var out []*hook.Endpoint
	for _, e := range m.Endpoints {
		if t := e.SecretRotationEndsAt; t != nil && !t.After(now) && len(out) < limit {
			out = append(out, &e)
		}
	}
	return out, nil
}

func deliveryKey(endpointID, id string) string { return endpointID + "/" + id }

func (m *Store) GetDelivery(_ context.Context, endpointID, id string) (*hook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("GetDelivery"); err != nil {
		return nil, err
	}
	d, ok := m.Deliveries[deliveryKey(endpointID, id)]
	if !ok {
		return nil, key.NotFound("delivery", id)
	}
	d.Attempts = slices.Clone(d.Attempts)
	return &d, nil
}

// SaveDelivery writes a delivery read at its current revision (0: new).
func (m *Store) SaveDelivery(_ context.Context, d *hook.Delivery) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("SaveDelivery"); err != nil {
		return err
	}
	return m.saveDelivery(d)
}

func (m *Store) saveDelivery(d *hook.Delivery) error {
	k := deliveryKey(d.EndpointID, d.ID)
	if cur := m.Deliveries[k]; cur.Revision != d.Revision {
		return store.ErrStale
	}
	d.Revision++
	c := *d
	c.Attempts = slices.Clone(d.Attempts)
	m.Deliveries[k] = c
	return nil
}

// RetryDelivery saves a delivery made due again, with its audit record.
func (m *Store) RetryDelivery(_ context.Context, d *hook.Delivery, a *key.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("RetryDelivery"); err != nil {
		return err
	}
	if err := m.saveDelivery(d); err != nil {
		return err
	}
	m.Audit = append(m.Audit, *a)
	return nil
}

// SaveTestEvent writes a test event, its delivery and its audit record.
func (m *Store) SaveTestEvent(_ context.Context, e outbox.Event, d *hook.Delivery, a *key.AuditRecord) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("SaveTestEvent"); err != nil {
		return err
	}
	if err := m.saveDelivery(d); err != nil {
		return err
	}
	m.Events = append(m.Events, e)
	m.Audit = append(m.Audit, *a)
	return nil
}

// ListDeliveries pages an endpoint's deliveries, newest first.
func (m *Store) ListDeliveries(_ context.Context, merchantID, endpointID string, limit int, cur string) ([]*hook.Delivery, string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("ListDeliveries"); err != nil {
		return nil, "", err
	}
	var all []*hook.Delivery
	for _, d := range m.Deliveries {
		if d.MerchantID == merchantID && d.EndpointID == endpointID {
			all = append(all, &d)
		}
	}
	return page(all, "deliveries", merchantID+"/"+endpointID, limit, cur,
		func(d *hook.Delivery) (time.Time, string) { return d.CreatedAt, d.ID })
}

// AddEvent writes an outbox event, pending until it is fanned out.
func (m *Store) AddEvent(e outbox.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.addEvent(e)
}

func (m *Store) addEvent(e outbox.Event) {
	m.Events = append(m.Events, e)
	m.Pending[e.ID] = true
}

func (m *Store) GetEvent(_ context.Context, id string) (*outbox.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("GetEvent"); err != nil {
		return nil, err
	}
	for _, e := range m.Events {
		if e.ID == id {
			return &e, nil
		}
	}
	return nil, key.NotFound("event", id)
}

// FannedOut marks an event fanned out.
func (m *Store) FannedOut(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("FannedOut"); err != nil {
		return err
	}
	delete(m.Pending, id)
	return nil
}

// PendingEvents returns up to limit events not fanned out, oldest first.
func (m *Store) PendingEvents(_ context.Context, _ time.Time, limit int) ([]outbox.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("PendingEvents"); err != nil {
		return nil, err
	}
	var out []outbox.Event
	for _, e := range m.Events {
		if m.Pending[e.ID] && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// DueDeliveries returns up to limit pending deliveries due at now.
func (m *Store) DueDeliveries(_ context.Context, now time.Time, limit int) ([]*hook.Delivery, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.call("DueDeliveries"); err != nil {
		return nil, err
	}
	var out []*hook.Delivery
	for _, d := range m.Deliveries {
		if d.Status == hook.DeliveryPending && d.NextAttemptAt != nil && !d.NextAttemptAt.After(now) && len(out) < limit {
			d.Attempts = slices.Clone(d.Attempts)
			out = append(out, &d)
		}
	}
	return out, nil
}
