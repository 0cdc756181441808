package keysvc

import (
	"context"
	"fmt"

	"github.com/paykeys/paykeys/internal/key"
)

// Verification is the answer of the per-key verify route.
type Verification struct {
	Valid  bool       `json:"valid"`
	Status key.Status `json:"status"`
}

// Verify tells whether secret is the key's current secret (or its previous
// one inside a grace period). A revoked key has no secret any more, so
// nothing is valid for it. Every try counts against a per-key limit, so the
// route cannot be used to guess.
func (s *Service) Verify(ctx context.Context, a key.Actor, id, secret string) (Verification, error) {
	k, err := s.getOwned(ctx, a, id)
	if err != nil {
		return Verification{}, err
	}
	now := s.Now()
	ok, retryAfter, err := s.Store.RateLimit(ctx, "verify#"+id, s.VerifyLimit, s.VerifyWindow, now)
	if err != nil {
		return Verification{}, fmt.Errorf("verify %s: rate limit: %w", id, err)
	}
	if !ok {
		return Verification{}, &key.RateLimitedError{RetryAfter: retryAfter}
	}
	parsed, wellFormed := s.Brand.ParseSecret(secret)
	match := k.MatchSecret(key.Hash(secret), now)
	return Verification{
		Valid:  wellFormed && parsed.ClientID == k.ID && match != key.NoMatch && k.Status != key.StatusRevoked,
		Status: k.EffectiveStatus(now),
	}, nil
}
