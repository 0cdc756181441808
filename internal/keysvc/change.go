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

// retry runs op on a fresh read of the key until it commits without a
// concurrent change winning, at most MaxAttempts times. The key's last use
// is read too, for the response and the event, but a failure to read it
// does not hold the change back: it lives in the usage partition, which the
// authorizer writes on every use, hottest when a stolen key is in use and
// must be disabled or revoked at once.
func (s *Service) retry(ctx context.Context, a key.Actor, id string, op func(k *key.Key) error) error {
	err := retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		k, err := s.getOwnedRecord(ctx, a, id)
		if err != nil {
			return err
		}
		if err := s.Store.AttachLastUse(ctx, k); err != nil {
			if ctx.Err() != nil {
				return err
			}
			s.Log.WarnContext(ctx, "key changed without its last use", "key_id", id, "error", err.Error())
		}
		return op(k)
	})
	if errors.Is(err, store.ErrStale) {
		return key.Conflict("key %s is being changed concurrently; retry", id)
	}
	return err
}

// Update applies a patch. A patch that changes nothing writes and announces nothing.
func (s *Service) Update(ctx context.Context, a key.Actor, id string, p key.Patch) (*key.Key, error) {
	var out *key.Key
	err := s.retry(ctx, a, id, func(k *key.Key) error {
		now := s.Now()
		n, change, err := k.Apply(p, now)
		if err != nil || change == key.Unchanged {
			out = n
			return err
		}
		action, typ := "key.update", outbox.EventKeyUpdated
		if change == key.Disabled {
			action, typ = "key.disable", outbox.EventKeyDisabled
		}
		x := extras(a, action, typ, n, now)
		x.Audit.Changes = k.ChangedFields(n)
		if err := s.Store.UpdateKey(ctx, n, x); err != nil {
			return fmt.Errorf("update %s: %w", id, err)
		}
		out = n
		return nil
	})
	return out, err
}

// Revoke revokes a key for good and destroys its secret. Revoking a revoked
// key announces nothing but finishes destroying its secret.
func (s *Service) Revoke(ctx context.Context, a key.Actor, id string) error {
	err := s.retry(ctx, a, id, func(k *key.Key) error {
		if k.Status == key.StatusRevoked {
			return nil
		}
		now := s.Now()
		n := k.Revoke(now)
		x := extras(a, "key.revoke", outbox.EventKeyRevoked, n, now)
		x.Revokes = true // the key no longer counts against the merchant's limit
		if err := s.Store.UpdateKey(ctx, n, x); err != nil {
			return fmt.Errorf("revoke %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := s.Secrets.Delete(ctx, id); err != nil {
		return fmt.Errorf("revoke %s: destroy secret: %w", id, err)
	}
	s.Log.InfoContext(ctx, "key revoked", "key_id", id, "merchant_id", a.MerchantID)
	return nil
}
