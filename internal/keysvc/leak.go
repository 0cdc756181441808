package keysvc

import (
	"context"
	"errors"
	"fmt"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/retry"
	"github.com/paykeys/paykeys/internal/store"
)

// LeakActor is who the audit log names for the changes a leak report makes.
const LeakActor = "system:leak-report"

// Leak is one token a secret scanner found, and where.
type Leak struct {
	Token  string
	URL    string
	Source string
}

// LeakReport acts on every token of one report, in order, and tells which
// are ours. scanner, the identifier of the key that signed the report, has
// at most LeakLimit reports taken per LeakWindow.
func (s *Service) LeakReport(ctx context.Context, a key.Actor, scanner string, leaks []Leak) ([]bool, error) {
	ok, retryAfter, err := s.Store.RateLimit(ctx, "leaks#"+scanner, s.LeakLimit, s.LeakWindow, s.Now())
	if err != nil {
		return nil, fmt.Errorf("leak report: rate limit: %w", err)
	}
	if !ok {
		return nil, &key.RateLimitedError{RetryAfter: retryAfter}
	}
	ours := make([]bool, len(leaks))
	for i, l := range leaks {
		if ours[i], err = s.Leaked(ctx, a, l); err != nil {
			return nil, err
		}
	}
	return ours, nil
}

// Leaked acts on one reported token and tells whether it is one of our
// secrets (a true positive). A token whose shape or checksum is not ours
// costs no I/O; one that is costs one key read (another only when a
// concurrent change wins). The change key.Key.Leak decides is committed with
// its key.leaked event and its audit record (actor LeakActor) in one
// transaction before Leaked returns; then a revoked key's secret is
// destroyed and the day's usage counts the leak. A repeated report changes
// nothing. a carries the report's request ID and source address.
func (s *Service) Leaked(ctx context.Context, a key.Actor, l Leak) (bool, error) {
	parsed, ok := s.Brand.ParseSecret(l.Token)
	if !ok {
		return false, nil
	}
	id, hash := parsed.ClientID, key.Hash(l.Token)
	var ours bool
	err := retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		k, err := s.Store.GetKey(ctx, id)
		if errors.Is(err, key.ErrNotFound) {
			ours = false
			return nil
		}
		if err != nil {
			return err
		}
		now := s.Now()
		out := k.Leak(hash, s.LeakPolicy, now)
		if ours = out.Ours; out.Changed == nil {
			return nil
		}
		n := out.Changed
		a.Subject, a.Role, a.MerchantID = LeakActor, "", k.MerchantID
		x := outbox.Extras{
			Audit: a.Audit("key.leak", resourceTypeKey, id, key.OutcomeSuccess, now),
			Events: []outbox.Event{outbox.KeyEventWith(outbox.EventKeyLeaked, n, now, map[string]any{
				"url": l.URL, "source": l.Source, "action": out.Action,
			})},
			Revokes: n.Status == key.StatusRevoked && k.Status != key.StatusRevoked,
		}
		x.Audit.Changes = k.ChangedFields(n)
		if err := s.Store.UpdateKey(ctx, n, x); err != nil {
			return err
		}
		s.afterLeak(ctx, n, x, out.Action)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("leak %s: %w", id, err)
	}
	return ours, nil
}

// afterLeak does what follows a committed leak change and may fail without
// undoing it: a revoked key's secret is destroyed (the record already
// refuses it everywhere; a failure is logged for the reconciliation sweep),
// and the day's usage counts the leak.
func (s *Service) afterLeak(ctx context.Context, n *key.Key, x outbox.Extras, action key.LeakAction) {
	if x.Revokes {
		if err := s.Secrets.Delete(ctx, n.ID); err != nil {
			s.Log.ErrorContext(ctx, "leaked key revoked, its secret not yet destroyed", "key_id", n.ID, "error", err.Error())
		}
	}
	day := key.UsageDay{Date: x.Audit.CreatedAt.UTC().Format(store.DateLayout), Denied: map[string]int64{string(key.CodeLeaked): 1}}
	if err := s.Store.AddUsage(ctx, n.ID, day, x.Audit.ID); err != nil {
		s.Log.WarnContext(ctx, "leak not counted in usage", "key_id", n.ID, "error", err.Error())
	}
	s.Log.InfoContext(ctx, "leaked key handled", "key_id", n.ID, "merchant_id", n.MerchantID, "action", string(action))
}
