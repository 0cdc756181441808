package keysvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// Idempotency is a create request's Idempotency-Key and the hash of its body.
type Idempotency struct {
	Key         string
	RequestHash []byte
}

// Created is what a create returns: the key's view at creation and its secret.
type Created struct {
	Key    key.View
	Secret string
	Replay bool // an earlier identical request's result, returned again
}

// Create mints a key. With idem, a retry within 24 h returns the same result
// and the same Idempotency-Key with another body is a conflict.
func (s *Service) Create(ctx context.Context, a Actor, p key.NewParams, idem *Idempotency) (Created, error) {
	p.MerchantID = a.MerchantID
	if idem != nil {
		if c, err := s.replay(ctx, a, idem); !errors.Is(err, key.ErrNotFound) {
			return c, err
		}
	}
	now := s.Now()
	issued, err := key.New(p, key.NewVersionID(), now)
	if err != nil {
		return Created{}, err
	}
	k := issued.Key
	view := k.View(now)
	x := extras(a, "key.create", EventKeyCreated, k, now)
	if idem != nil {
		body, err := json.Marshal(view)
		if err != nil {
			return Created{}, fmt.Errorf("create: marshal view: %w", err)
		}
		x.Idempotency = &store.Idempotency{
			MerchantID: a.MerchantID, Key: idem.Key, RequestHash: idem.RequestHash,
			KeyID: k.ID, SecretVersionID: k.SecretVersionID, Response: body, CreatedAt: now,
		}
	}
	if err := s.Secrets.Create(ctx, k.ID, k.SecretVersionID, issued.Secret); err != nil {
		s.deleteSecret(ctx, k.ID, "create: secret store failed")
		return Created{}, fmt.Errorf("create %s: store secret: %w", k.ID, err)
	}
	if err := s.Store.CreateKey(ctx, k, x); err != nil {
		s.deleteSecret(ctx, k.ID, "create: key record failed")
		if errors.Is(err, store.ErrIdempotencyTaken) {
			return s.replay(ctx, a, idem)
		}
		return Created{}, fmt.Errorf("create %s: %w", k.ID, err)
	}
	s.Log.InfoContext(ctx, "key created", "key_id", k.ID, "merchant_id", a.MerchantID, "environment", k.Environment)
	return Created{Key: view, Secret: issued.Secret}, nil
}

// replay returns the result of an earlier create with the same Idempotency-Key.
func (s *Service) replay(ctx context.Context, a Actor, idem *Idempotency) (Created, error) {
	rec, err := s.Store.GetIdempotency(ctx, a.MerchantID, idem.Key)
	if err != nil {
		return Created{}, err
	}
	if !bytes.Equal(rec.RequestHash, idem.RequestHash) {
		return Created{}, key.Conflict("Idempotency-Key was already used with a different request")
	}
	var view key.View
	if err := json.Unmarshal(rec.Response, &view); err != nil {
		return Created{}, fmt.Errorf("replay %s: decode stored response: %w", rec.KeyID, err)
	}
	secret, err := s.Secrets.Get(ctx, rec.KeyID, rec.SecretVersionID)
	if errors.Is(err, key.ErrNotFound) {
		return Created{}, key.Conflict("the key created with this Idempotency-Key no longer has that secret")
	}
	if err != nil {
		return Created{}, fmt.Errorf("replay %s: %w", rec.KeyID, err)
	}
	return Created{Key: view, Secret: secret, Replay: true}, nil
}

// deleteSecret removes a secret that no key record points to. A failure is
// logged; the reconciliation sweep removes what is left.
func (s *Service) deleteSecret(ctx context.Context, id, why string) {
	ctx, cancel := s.detached(ctx)
	defer cancel()
	if err := s.Secrets.Delete(ctx, id); err != nil {
		s.Log.ErrorContext(ctx, "orphan secret left for the sweep", "key_id", id, "reason", why, "error", err.Error())
	}
}
