package secret

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"
)

// Backend is one secret store: Store (one Secrets Manager secret per key)
// or Envelope (ciphertexts in DynamoDB under a KEK in Secrets Manager). Both
// give every method the same meaning, so either serves every caller.
type Backend interface {
	Name(name string) string
	Create(ctx context.Context, name, versionID, value string) error
	Stage(ctx context.Context, name, versionID, value string) error
	Promote(ctx context.Context, name, currentVersionID, previousVersionID string) error
	Get(ctx context.Context, name, versionID string) (string, error)
	Delete(ctx context.Context, name string) error
	Retire(ctx context.Context, name, versionID, currentVersionID string) error
	Versions(ctx context.Context, name string) (map[string][]string, error)
	List(ctx context.Context, cursor string, limit int) ([]string, string, error)
	ListDated(ctx context.Context, cursor string, limit int) ([]Listed, string, error)
}

var (
	_ Backend = (*Store)(nil)
	_ Backend = (*Envelope)(nil)
	_ Backend = (*Chain)(nil)
)

// Chain is the secret store a deployment runs on: Primary, the store its
// configuration names, holds every new secret; Secondary, the other store,
// is still read, so that switching stores fails no request. Secrets move
// from Secondary to Primary one name at a time (Move): when a reset or a
// label change touches them, and in pages by the lifecycle job (Upkeep),
// which also re-wraps an envelope store's ciphertexts after a KEK rotation.
type Chain struct {
	Primary, Secondary Backend
	// UpkeepLimit bounds the names moved and the ciphertexts re-wrapped by
	// one Upkeep; RewrapMargin is Envelope.Rewrap's margin.
	UpkeepLimit  int
	RewrapMargin time.Duration
}

// NewChain returns a Chain with the default upkeep settings.
func NewChain(primary, secondary Backend) *Chain {
	return &Chain{Primary: primary, Secondary: secondary, UpkeepLimit: 1000, RewrapMargin: DefaultRewrapMargin}
}

// Name is the primary store's name for a secret.
func (c *Chain) Name(name string) string { return c.Primary.Name(name) }

// Create stores a new secret in the primary store.
func (c *Chain) Create(ctx context.Context, name, versionID, value string) error {
	return c.Primary.Create(ctx, name, versionID, value)
}

// Stage stages a version in the primary store, first moving the secret
// there if it is still in the secondary one.
func (c *Chain) Stage(ctx context.Context, name, versionID, value string) error {
	err := c.Primary.Stage(ctx, name, versionID, value)
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	// A concurrent Move may have taken it since: try again either way.
	if _, merr := c.Move(ctx, name); merr != nil {
		return errors.Join(err, merr)
	}
	return c.Primary.Stage(ctx, name, versionID, value)
}

// Promote moves the labels in the primary store, first moving the secret
// there if a version it names is still in the secondary one.
func (c *Chain) Promote(ctx context.Context, name, currentVersionID, previousVersionID string) error {
	err := c.Primary.Promote(ctx, name, currentVersionID, previousVersionID)
	if !errors.Is(err, ErrNotFound) {
		return err
	}
	// A concurrent Move may have taken it since: try again either way.
	if _, merr := c.Move(ctx, name); merr != nil {
		return errors.Join(err, merr)
	}
	return c.Primary.Promote(ctx, name, currentVersionID, previousVersionID)
}

// Get reads a version from the primary store, else from the secondary one,
// else from the primary again: a Move copies before it deletes, so a
// version moved between the first two reads is found by the third.
func (c *Chain) Get(ctx context.Context, name, versionID string) (string, error) {
	v, err := c.Primary.Get(ctx, name, versionID)
	if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	v, err = c.Secondary.Get(ctx, name, versionID)
	if !errors.Is(err, ErrNotFound) {
		return v, err
	}
	return c.Primary.Get(ctx, name, versionID)
}

// Delete destroys the secret in both stores: the secondary first, so that a
// Move racing with it never leaves a copy behind (see Move).
func (c *Chain) Delete(ctx context.Context, name string) error {
	if err := c.Secondary.Delete(ctx, name); err != nil {
		return err
	}
	return c.Primary.Delete(ctx, name)
}

// Retire retires the version in both stores.
func (c *Chain) Retire(ctx context.Context, name, versionID, currentVersionID string) error {
	if err := c.Primary.Retire(ctx, name, versionID, currentVersionID); err != nil {
		return err
	}
	return c.Secondary.Retire(ctx, name, versionID, currentVersionID)
}

// Versions returns the labelled versions in the primary store, or else in
// the secondary one.
func (c *Chain) Versions(ctx context.Context, name string) (map[string][]string, error) {
	v, err := c.Primary.Versions(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return c.Secondary.Versions(ctx, name)
	}
	return v, err
}

// List lists the primary store's secrets.
func (c *Chain) List(ctx context.Context, cursor string, limit int) ([]string, string, error) {
	return c.Primary.List(ctx, cursor, limit)
}

// ListDated lists the primary store's secrets with the time of their last
// write. The secondary store's are moved into the primary by Upkeep.
func (c *Chain) ListDated(ctx context.Context, cursor string, limit int) ([]Listed, string, error) {
	return c.Primary.ListDated(ctx, cursor, limit)
}

// Move moves one secret from the secondary store to the primary one: it
// copies every version the secondary lists that the primary lacks (the
// current one first, creating the secret when the primary has none; the
// others staged), then deletes the secondary's. It moves no label: only a
// change of the key record does (Promote), so a Move racing with a reset
// never undoes the reset's labels. It reports whether the secondary had the
// secret. Reads find every version throughout (see Get). Moving again, or
// concurrently (a reset and the lifecycle job), is safe. A Delete (a
// revoke) removes the secondary first and the primary second, so a copy
// made before its second step goes with it; only a copy read before the
// revoke and written after it, within the same few milliseconds, would
// outlive it, and the key record, revoked, trusts no secret any more.
func (c *Chain) Move(ctx context.Context, name string) (bool, error) {
	src, err := c.Secondary.Versions(ctx, name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("move %s: %w", name, err)
	}
	dst, err := c.Primary.Versions(ctx, name)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("move %s: %w", name, err)
	}
	order := slices.Sorted(maps.Keys(src))
	if i := slices.Index(order, labelled(src, StageCurrent)); i > 0 {
		order[0], order[i] = order[i], order[0]
	}
	exists := len(dst) > 0
	for _, v := range order {
		if _, ok := dst[v]; ok {
			continue
		}
		val, err := c.Secondary.Get(ctx, name, v)
		if errors.Is(err, ErrNotFound) {
			continue // retired or deleted meanwhile
		}
		if err != nil {
			return true, fmt.Errorf("move %s: %w", name, err)
		}
		err = ErrExists
		if !exists {
			err = c.Primary.Create(ctx, name, v, val)
		}
		if errors.Is(err, ErrExists) { // made meanwhile, by a concurrent Move or a reset
			err = c.Primary.Stage(ctx, name, v, val)
		}
		if err != nil {
			return true, fmt.Errorf("move %s: copy: %w", name, err)
		}
		exists = true
	}
	if err := c.Secondary.Delete(ctx, name); err != nil {
		return true, fmt.Errorf("move %s: delete the old copy: %w", name, err)
	}
	return true, nil
}

func labelled(versions map[string][]string, stage string) string {
	for v, st := range versions {
		if slices.Contains(st, stage) {
			return v
		}
	}
	return ""
}

// UpkeepStats is what one Upkeep did.
type UpkeepStats struct {
	Moved      int         `json:"secrets_moved"`       // secrets moved from the secondary store
	MoveFailed int         `json:"secrets_move_failed"` // left in the secondary store; the next run tries again
	Remaining  bool        `json:"secrets_remaining"`   // stopped at the limit with more to move
	Rewrap     RewrapStats `json:"rewrap"`
}

// Upkeep is the secret store's share of the lifecycle job: it moves up to
// UpkeepLimit secrets still in the secondary store into the primary one,
// and, when the primary store is an envelope store, re-wraps up to
// UpkeepLimit ciphertexts left under a previous KEK, retiring it once none
// is. Both keep no state between runs: what is left is what the stores
// still hold, so a run cut off anywhere resumes with the next.
func (c *Chain) Upkeep(ctx context.Context) (UpkeepStats, error) {
	var st UpkeepStats
	limit := max(c.UpkeepLimit, 1)
	var errs []error
	cursor := ""
	for {
		if st.Moved+st.MoveFailed >= limit {
			st.Remaining = true
			break
		}
		names, next, err := c.Secondary.List(ctx, cursor, min(100, limit-st.Moved-st.MoveFailed))
		if err != nil {
			errs = append(errs, err)
			break
		}
		for _, n := range names {
			moved, err := c.Move(ctx, n)
			switch {
			case err != nil:
				st.MoveFailed++
				if len(errs) < 3 {
					errs = append(errs, err)
				}
			case moved:
				st.Moved++
			}
		}
		if next == "" || ctx.Err() != nil {
			break
		}
		cursor = next
	}
	if env, ok := c.Primary.(*Envelope); ok && ctx.Err() == nil {
		rs, err := env.Rewrap(ctx, limit, c.RewrapMargin)
		st.Rewrap = rs
		errs = append(errs, err)
	}
	return st, errors.Join(errs...)
}

// Chains are the stores of each kind of secret (one per name prefix, each
// with KEKs of its own), kept up one after the other by the lifecycle job.
type Chains []*Chain

// Upkeep runs each chain's Upkeep and adds up what they did (the KEK
// versions of the re-wraps are left out: each chain has its own).
func (cs Chains) Upkeep(ctx context.Context) (UpkeepStats, error) {
	var total UpkeepStats
	var errs []error
	for _, c := range cs {
		st, err := c.Upkeep(ctx)
		total.Moved += st.Moved
		total.MoveFailed += st.MoveFailed
		total.Remaining = total.Remaining || st.Remaining
		total.Rewrap.Rewrapped += st.Rewrap.Rewrapped
		total.Rewrap.Retired = total.Rewrap.Retired || st.Rewrap.Retired
		total.Rewrap.Remaining = total.Rewrap.Remaining || st.Rewrap.Remaining
		errs = append(errs, err)
	}
	return total, errors.Join(errs...)
}
