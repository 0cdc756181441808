package keysvc

import (
	"context"
	"fmt"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// Reset issues a new secret. The key record decides which secret is current;
// the secret store's staging labels follow it. Every secret returned worked
// when it was returned: after committing, the record is read again, and a
// secret that a concurrent reset has already replaced is not handed out.
func (s *Service) Reset(ctx context.Context, a key.Actor, id string, grace time.Duration) (key.Issued, error) {
	if err := key.ValidateGrace(grace); err != nil {
		return key.Issued{}, err
	}
	var issued key.Issued
	err := s.retry(ctx, a, id, func(k *key.Key) error {
		now := s.Now()
		var err error
		if issued, err = k.Reset(s.Brand, grace, key.NewVersionID(), now); err != nil {
			return err
		}
		n := issued.Key
		if err := s.Secrets.Stage(ctx, id, n.SecretVersionID, issued.Secret); err != nil {
			return fmt.Errorf("reset %s: stage secret: %w", id, err)
		}
		if err := s.Store.UpdateKey(ctx, n, extras(a, "key.reset", outbox.EventKeyReset, n, now)); err != nil {
			return fmt.Errorf("reset %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return key.Issued{}, err
	}
	n := issued.Key
	cur, err := s.settle(ctx, n)
	if err != nil {
		return key.Issued{}, err
	}
	if cur.MatchSecret(n.SecretHash, s.Now()) == key.NoMatch || cur.Status == key.StatusRevoked {
		return key.Issued{}, key.Conflict("key %s was changed concurrently and this reset's secret was replaced; retry", id)
	}
	s.Log.InfoContext(ctx, "key reset", "key_id", id, "merchant_id", a.MerchantID, "secret_version", n.SecretVersion)
	return issued, nil
}

// settle moves the secret store's staging labels to what the key record says
// and reads the record again, until a read after a successful move shows the
// record unchanged. Whoever moves the labels last has therefore seen the final
// record, so concurrent resets leave the labels on the current secret. It
// returns the record as last read.
//
// A failed label move does not fail the reset: the record alone decides which
// secret works (bearer checks use its hash, signed requests read the secret by
// the version ID it names), and the next reset or sweep moves the labels.
func (s *Service) settle(ctx context.Context, want *key.Key) (*key.Key, error) {
	for attempt := 1; ; attempt++ {
		moved := s.Secrets.Promote(ctx, want.ID, want.SecretVersionID, want.PrevSecretVersionID)
		cur, err := s.Store.GetKey(ctx, want.ID)
		if err != nil {
			return nil, fmt.Errorf("reset %s: confirm: %w", want.ID, err)
		}
		same := cur.SecretVersionID == want.SecretVersionID && cur.PrevSecretVersionID == want.PrevSecretVersionID
		if moved == nil && same || attempt >= s.MaxAttempts {
			if moved != nil {
				s.Log.WarnContext(ctx, "staging labels not moved", "key_id", want.ID, "error", moved.Error())
			}
			return cur, nil
		}
		want = cur
	}
}
