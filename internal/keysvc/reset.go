package keysvc

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/paykeys/paykeys/internal/key"
)

// Reset issues a new secret. The key record decides which secret is current;
// the secret store's staging labels follow it. Every secret returned worked
// when it was returned: after committing, the record is read again, and a
// secret that a concurrent reset has already replaced is not handed out.
func (s *Service) Reset(ctx context.Context, a Actor, id string, grace time.Duration) (key.Issued, error) {
	if err := key.ValidateGrace(grace); err != nil {
		return key.Issued{}, err
	}
	var issued key.Issued
	err := s.retry(ctx, a, id, func(k *key.Key) error {
		now := s.Now()
		var err error
		if issued, err = k.Reset(grace, key.NewVersionID(), now); err != nil {
			return err
		}
		n := issued.Key
		if err := s.Secrets.Stage(ctx, id, n.SecretVersionID, issued.Secret); err != nil {
			return fmt.Errorf("reset %s: stage secret: %w", id, err)
		}
		if err := s.Store.UpdateKey(ctx, n, extras(a, "key.reset", EventKeyReset, n, now)); err != nil {
			return fmt.Errorf("reset %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return key.Issued{}, err
	}
	n := issued.Key
	if err := s.Secrets.Promote(ctx, id, n.SecretVersionID, n.PrevSecretVersionID); err != nil {
		// The record is committed, so the new secret already works (bearer
		// checks use its hash, signed requests read it by version ID). Labels
		// are brought in line by the next reset or the scheduled sweep.
		s.Log.WarnContext(ctx, "staging labels not moved", "key_id", id, "error", err.Error())
	}
	if err := s.stillWorks(ctx, n); err != nil {
		return key.Issued{}, err
	}
	s.Log.InfoContext(ctx, "key reset", "key_id", id, "merchant_id", a.MerchantID, "secret_version", n.SecretVersion)
	return issued, nil
}

// stillWorks re-reads the key and checks that the secret just issued is still
// one that the key accepts.
func (s *Service) stillWorks(ctx context.Context, issued *key.Key) error {
	cur, err := s.Store.GetKey(ctx, issued.ID)
	if err != nil {
		return fmt.Errorf("reset %s: confirm: %w", issued.ID, err)
	}
	if cur.MatchSecret(issued.SecretHash, s.Now()) == key.NoMatch || cur.EffectiveStatus(s.Now()) == key.StatusRevoked {
		return key.Conflict("key %s was changed concurrently and this reset's secret was replaced; retry", issued.ID)
	}
	if cur.SecretVersionID == issued.SecretVersionID {
		return nil
	}
	// A later reset won; make sure the labels follow the record, not us.
	if err := s.Secrets.Promote(ctx, cur.ID, cur.SecretVersionID, cur.PrevSecretVersionID); err != nil {
		s.Log.WarnContext(ctx, "staging labels not moved", "key_id", cur.ID, "error", err.Error())
	}
	return nil
}

// backoff waits a short, jittered time before retry attempt n+1.
func backoff(ctx context.Context, n int) error {
	d := time.Duration(5*n+rand.IntN(20*n)) * time.Millisecond
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
