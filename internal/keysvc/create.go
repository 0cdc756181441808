package keysvc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/retry"
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

// Create mints a key. With idem, a retry by the same user of the same
// merchant within 24 h returns the same result, while the key still has the
// secret it was created with; the same Idempotency-Key with another body is
// a conflict. Only successes are remembered.
func (s *Service) Create(ctx context.Context, a key.Actor, p key.NewParams, idem *Idempotency) (Created, error) {
	p.MerchantID = a.MerchantID
	if idem != nil {
		if c, err := s.replay(ctx, a, idem); !errors.Is(err, key.ErrNotFound) {
			return c, err
		}
	}
	p.Brand = s.Brand
	now := s.Now()
	issued, err := key.New(p, key.NewVersionID(), now)
	if err != nil {
		return Created{}, err
	}
	k := issued.Key
	view := k.View(now)
	view.Revision = 1 // the revision the create writes
	x := extras(a, "key.create", outbox.EventKeyCreated, k, now)
	if idem != nil {
		body, err := json.Marshal(view)
		if err != nil {
			return Created{}, fmt.Errorf("create: marshal view: %w", err)
		}
		x.Idempotency = &key.IdempotencyRecord{
			MerchantID: a.MerchantID, Subject: a.Subject, Key: idem.Key, RequestHash: idem.RequestHash,
			KeyID: k.ID, SecretVersionID: k.SecretVersionID, Response: body, CreatedAt: now,
		}
	}
	if err := s.Secrets.Create(ctx, k.ID, k.SecretVersionID, issued.Secret); err != nil {
		s.deleteSecret(ctx, k.ID, "create: secret store failed")
		return Created{}, fmt.Errorf("create %s: store secret: %w", k.ID, err)
	}
	x.KeyLimit = s.MaxKeys
	if err := s.createKey(ctx, k, x); err != nil {
		s.dropUnusedSecret(ctx, k, "create: key record failed")
		switch {
		case errors.Is(err, store.ErrIdempotencyTaken):
			return s.replay(ctx, a, idem)
		case errors.Is(err, store.ErrLimitReached):
			return Created{}, key.Conflict("a merchant may have at most %d keys that are not revoked; revoke one to create another", s.MaxKeys)
		case errors.Is(err, store.ErrStale):
			return Created{}, key.Conflict("keys are being created concurrently; try again")
		}
		return Created{}, fmt.Errorf("create %s: %w", k.ID, err)
	}
	s.Log.InfoContext(ctx, "key created", "key_id", k.ID, "merchant_id", a.MerchantID, "environment", k.Environment)
	return Created{Key: view, Secret: issued.Secret}, nil
}

// errReplayGone answers a replay whose key no longer has the secret it was
// created with (reset, revoked or expired since): nothing is handed out.
var errReplayGone = key.Conflict("the key created with this Idempotency-Key no longer has that secret")

// createKey writes the new key record, trying again while concurrent creates
// of the same merchant (which all update its count of keys) win.
func (s *Service) createKey(ctx context.Context, k *key.Key, x outbox.Extras) error {
	return retry.OnConflict(ctx, s.MaxAttempts, store.ErrStale, func(int) error {
		return s.Store.CreateKey(ctx, k, x)
	})
}

// replay returns the result of an earlier create by the same user with the
// same Idempotency-Key. The secret is returned only while it is the key's
// current, working secret, checked before and after reading it, and every
// replay that returns it is audited (outcome replayed) before it is returned.
func (s *Service) replay(ctx context.Context, a key.Actor, idem *Idempotency) (Created, error) {
	rec, err := s.Store.GetIdempotency(ctx, a.MerchantID, a.Subject, idem.Key)
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
	if err := s.stillCurrent(ctx, rec); err != nil {
		return Created{}, err
	}
	secret, err := s.Secrets.Get(ctx, rec.KeyID, rec.SecretVersionID)
	if errors.Is(err, key.ErrNotFound) {
		return Created{}, errReplayGone
	}
	if err != nil {
		return Created{}, fmt.Errorf("replay %s: %w", rec.KeyID, err)
	}
	// A reset or revoke may have committed while the secret was read.
	if err := s.stillCurrent(ctx, rec); err != nil {
		return Created{}, err
	}
	r := a.Audit("key.create", resourceTypeKey, rec.KeyID, key.OutcomeReplayed, s.Now())
	if err := s.Store.PutAudit(ctx, r); err != nil {
		return Created{}, fmt.Errorf("replay %s: audit: %w", rec.KeyID, err)
	}
	s.Log.InfoContext(ctx, "key create replayed", "key_id", rec.KeyID, "merchant_id", a.MerchantID)
	return Created{Key: view, Secret: secret, Replay: true}, nil
}

// stillCurrent checks that the key made by an idempotent create still has
// the secret it was created with, and that the secret still works.
func (s *Service) stillCurrent(ctx context.Context, rec *key.IdempotencyRecord) error {
	k, err := s.Store.GetKey(ctx, rec.KeyID)
	if errors.Is(err, key.ErrNotFound) {
		return errReplayGone
	}
	if err != nil {
		return fmt.Errorf("replay %s: %w", rec.KeyID, err)
	}
	if k.MerchantID != rec.MerchantID || k.SecretVersionID != rec.SecretVersionID {
		return errReplayGone
	}
	switch k.EffectiveStatus(s.Now()) {
	case key.StatusRevoked, key.StatusExpired:
		return errReplayGone
	}
	return nil
}

// dropUnusedSecret deletes a new key's secret after its record's write
// failed, unless the write did commit after all (a timeout or a cancelled
// request can hide a commit): a key record must never lose its secret.
// When the record cannot be read, or the write was cut off (its context
// ended: the commit may still land after any read), the secret stays for
// the sweep: an orphan secret is harmless, a key without one is not.
func (s *Service) dropUnusedSecret(ctx context.Context, k *key.Key, why string) {
	if ctx.Err() != nil {
		s.Log.ErrorContext(context.WithoutCancel(ctx), "orphan secret left for the sweep", "key_id", k.ID, "reason", why+" (cut off)")
		return
	}
	rctx, cancel := s.detached(ctx)
	defer cancel()
	got, err := s.Store.GetKey(rctx, k.ID)
	switch {
	case errors.Is(err, key.ErrNotFound):
		s.deleteSecret(ctx, k.ID, why)
	case err != nil:
		s.Log.ErrorContext(rctx, "orphan secret left for the sweep", "key_id", k.ID, "reason", why, "error", err.Error())
	case got.SecretVersionID == k.SecretVersionID:
		s.Log.WarnContext(rctx, "key record written although its write reported an error; its secret is kept", "key_id", k.ID, "reason", why)
	}
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
