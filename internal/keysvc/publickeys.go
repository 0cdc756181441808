package keysvc

import (
	"context"
	"fmt"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// Audit actions of public key changes, on the key (changes: public_keys).
const (
	actionPublicKeyAdd    = "key.public_key_add"
	actionPublicKeyDelete = "key.public_key_delete"
)

// AddPublicKey registers a public key on one of the actor's keys. The
// key's record carries it, so the write bumps the key's revision and goes
// through the change feed like any key change.
func (s *Service) AddPublicKey(ctx context.Context, a key.Actor, id string, p key.PublicKey) (key.PublicKey, error) {
	var out key.PublicKey
	err := s.retry(ctx, a, id, func(k *key.Key) error {
		now := s.Now()
		n, added, err := k.AddPublicKey(p, now)
		if err != nil {
			return err
		}
		if err := s.Store.UpdateKey(ctx, n, publicKeyExtras(a, actionPublicKeyAdd, id, now)); err != nil {
			return fmt.Errorf("add public key to %s: %w", id, err)
		}
		out = added
		return nil
	})
	return out, err
}

// ListPublicKeys returns the public keys of one of the actor's keys.
func (s *Service) ListPublicKeys(ctx context.Context, a key.Actor, id string) ([]key.PublicKey, error) {
	k, err := s.getOwned(ctx, a, id)
	if err != nil {
		return nil, err
	}
	return k.PublicKeys, nil
}

// DeletePublicKey removes a public key from one of the actor's keys; from
// the change's response on, nothing it signs is accepted. A public key the
// key does not hold is not found.
func (s *Service) DeletePublicKey(ctx context.Context, a key.Actor, id, pkID string) error {
	return s.retry(ctx, a, id, func(k *key.Key) error {
		now := s.Now()
		n, ok := k.RemovePublicKey(pkID, now)
		if !ok {
			return key.NotFound("public key", pkID)
		}
		if err := s.Store.UpdateKey(ctx, n, publicKeyExtras(a, actionPublicKeyDelete, id, now)); err != nil {
			return fmt.Errorf("delete public key %s of %s: %w", pkID, id, err)
		}
		s.Log.InfoContext(ctx, "public key deleted", "key_id", id, "public_key_id", pkID, "merchant_id", a.MerchantID)
		return nil
	})
}

func publicKeyExtras(a key.Actor, action, id string, now time.Time) outbox.Extras {
	r := a.Audit(action, resourceTypeKey, id, key.OutcomeSuccess, now)
	r.Changes = []string{"public_keys"}
	return outbox.Extras{Audit: r}
}
