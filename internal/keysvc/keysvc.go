// Package keysvc carries out key operations across the metadata store and the
// secret store, in an order that never leaves a half-made key behind:
//
//   - create writes the secret first and the key record last; if the record
//     fails, the secret is deleted (a leftover secret names no key, so the
//     reconciliation sweep can remove it);
//   - reset stages the new secret as a pending version, commits the key record
//     (which alone decides what is current), then moves the staging labels;
//   - revoke commits the revoked record first, then destroys the secret; a
//     repeated DELETE finishes a destruction that failed.
package keysvc

import (
	"context"
	"log/slog"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// Store is the metadata store as this package uses it.
type Store interface {
	CreateKey(ctx context.Context, k *key.Key, x outbox.Extras) error
	GetKey(ctx context.Context, id string) (*key.Key, error)
	UpdateKey(ctx context.Context, k *key.Key, x outbox.Extras) error
	ListKeys(ctx context.Context, merchantID string, f key.ListFilter) ([]*key.Key, string, error)
	// AttachLastUse fills in the keys' last use, which the key item does not
	// hold (the authorizer writes it apart, see package store).
	AttachLastUse(ctx context.Context, keys ...*key.Key) error
	GetIdempotency(ctx context.Context, merchantID, subject, idemKey string) (*key.IdempotencyRecord, error)
	PutAudit(ctx context.Context, r *key.AuditRecord) error
	RateLimit(ctx context.Context, name string, limit int, window time.Duration, now time.Time) (bool, time.Duration, error)
	AddUsage(ctx context.Context, clientID string, day key.UsageDay, token string) error
}

// Secrets is the secret store as this package uses it.
type Secrets interface {
	Create(ctx context.Context, clientID, versionID, value string) error
	Stage(ctx context.Context, clientID, versionID, value string) error
	Promote(ctx context.Context, clientID, currentVersionID, previousVersionID string) error
	Get(ctx context.Context, clientID, versionID string) (string, error)
	Delete(ctx context.Context, clientID string) error
}

// DefaultMaxKeys is the default limit of keys that are not revoked per merchant.
const DefaultMaxKeys = 500

// Service runs key operations.
type Service struct {
	Store   Store
	Secrets Secrets
	Log     *slog.Logger
	Now     func() time.Time
	// Brand is the prefix of the secrets the service mints and accepts.
	Brand key.Brand
	// LeakPolicy is what a leak report does to a live key ("": disable).
	LeakPolicy key.LeakPolicy
	// LeakLimit reports per LeakWindow per scanner key are taken; more are
	// refused with 429.
	LeakLimit  int
	LeakWindow time.Duration

	// VerifyLimit tries per VerifyWindow per key for the per-key verify route.
	VerifyLimit  int
	VerifyWindow time.Duration
	// MaxKeys is the most keys that are not revoked a merchant may have
	// (0: no limit).
	MaxKeys int
	// MaxAttempts bounds optimistic-concurrency retries of one operation.
	MaxAttempts int
	// CleanupTimeout bounds compensating calls made after a failure.
	CleanupTimeout time.Duration
}

// New returns a Service with production defaults.
func New(st Store, sec Secrets, log *slog.Logger) *Service {
	return &Service{
		Store: st, Secrets: sec, Log: log, Now: time.Now,
		VerifyLimit: 10, VerifyWindow: time.Minute, MaxKeys: DefaultMaxKeys,
		LeakLimit: 60, LeakWindow: time.Minute,
		MaxAttempts: 8, CleanupTimeout: 5 * time.Second,
	}
}

// getOwned fetches a key that belongs to the actor's merchant, with its
// last use. Another merchant's key, or an ID that cannot be a key, is not
// found.
func (s *Service) getOwned(ctx context.Context, a key.Actor, id string) (*key.Key, error) {
	k, err := s.getOwnedRecord(ctx, a, id)
	if err != nil {
		return nil, err
	}
	if err := s.Store.AttachLastUse(ctx, k); err != nil {
		return nil, err
	}
	return k, nil
}

// getOwnedRecord is getOwned without the last use, which a change reads
// apart (see retry).
func (s *Service) getOwnedRecord(ctx context.Context, a key.Actor, id string) (*key.Key, error) {
	if !key.ValidClientID(id) {
		return nil, key.NotFound("key", id)
	}
	k, err := s.Store.GetKey(ctx, id)
	if err != nil {
		return nil, err
	}
	if k.MerchantID != a.MerchantID {
		return nil, key.NotFound("key", id)
	}
	return k, nil
}

// Get returns one of the actor's keys.
func (s *Service) Get(ctx context.Context, a key.Actor, id string) (*key.Key, error) {
	return s.getOwned(ctx, a, id)
}

// List returns a page of the actor's keys, newest first.
func (s *Service) List(ctx context.Context, a key.Actor, f key.ListFilter) ([]*key.Key, string, error) {
	f.Now = s.Now()
	keys, next, err := s.Store.ListKeys(ctx, a.MerchantID, f)
	if err != nil {
		return nil, "", err
	}
	if err := s.Store.AttachLastUse(ctx, keys...); err != nil {
		return nil, "", err
	}
	return keys, next, nil
}

// detached runs cleanup work that must happen even when the request's context
// is done, bounded in time.
func (s *Service) detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), s.CleanupTimeout)
}
