package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/secret"
)

// Orphans is the secret store as the orphan sweep uses it (secret.Chain):
// its secrets with the time of their last write, page by page, and Delete.
type Orphans interface {
	ListDated(ctx context.Context, cursor string, limit int) ([]secret.Listed, string, error)
	Delete(ctx context.Context, name string) error
}

// Cursors keeps the sweep's place between runs (store.Store).
type Cursors interface {
	JobCursor(ctx context.Context, name string) (string, error)
	SaveJobCursor(ctx context.Context, name, cursor string) error
}

// Owner reports what the records say of a secret; a name of a shape the
// owner never gives its secrets counts as owned.
type Owner func(ctx context.Context, name string) (Ownership, error)

// Ownership is what the records say of a secret.
type Ownership int

const (
	// Owned: a record names the secret and may use it.
	Owned Ownership = iota
	// Unowned: no record names the secret.
	Unowned
	// Revoked: the record naming it is a revoked key's. A revoke destroys
	// the secret once the record is committed, so one still there is a
	// delete that failed; revocation is final, nothing reads it again.
	Revoked
)

// SweptStore is one kind of secret the sweep walks: its store, the records
// that own its secrets, and a name for its cursor, logs and stats.
type SweptStore struct {
	Kind    string
	Secrets Orphans
	Owner   Owner
}

// KeyRecords owns the secrets named by a key's client ID (store.Store),
// but for a revoked key's.
func KeyRecords(st interface {
	GetKey(ctx context.Context, id string) (*key.Key, error)
}) Owner {
	return ownedBy(key.ValidClientID, func(ctx context.Context, id string) (Ownership, error) {
		k, err := st.GetKey(ctx, id)
		if err == nil && k.Status == key.StatusRevoked {
			return Revoked, nil
		}
		return found(err)
	})
}

// EndpointRecords owns the signing secrets named by a webhook endpoint's ID
// (store.Store).
func EndpointRecords(st interface {
	GetEndpoint(ctx context.Context, id string) (*hook.Endpoint, error)
}) Owner {
	return ownedBy(hook.ValidID, func(ctx context.Context, id string) (Ownership, error) {
		_, err := st.GetEndpoint(ctx, id)
		return found(err)
	})
}

// ownedBy asks get about the secrets whose name is a valid ID, and owns
// the others.
func ownedBy(valid func(string) bool, get func(ctx context.Context, id string) (Ownership, error)) Owner {
	return func(ctx context.Context, name string) (Ownership, error) {
		if !valid(name) {
			return Owned, nil
		}
		return get(ctx, name)
	}
}

// found is the ownership a record read gives: key.ErrNotFound is no owner.
func found(err error) (Ownership, error) {
	switch {
	case errors.Is(err, key.ErrNotFound):
		return Unowned, nil
	case err != nil:
		return Owned, err
	}
	return Owned, nil
}

// Defaults of the orphan sweep.
const (
	DefaultSweepMargin = time.Hour
	DefaultSweepLimit  = 1000
	sweepCursor        = "orphan-secret-sweep/"
	// sweepBrake: a page with at least this many orphans, more than half of
	// its old secrets, stops the sweep (see sweep).
	sweepBrake = 10
)

// SweepStats is what one run's orphan sweep did.
type SweepStats struct {
	Examined int  `json:"examined"` // secrets listed
	Young    int  `json:"young"`    // written within the margin: perhaps a create still in flight
	Owned    int  `json:"owned"`    // a key or endpoint record names it (whatever its state, but revoked)
	Revoked  int  `json:"revoked"`  // a revoked key's, whose delete at the revoke failed
	Deleted  int  `json:"deleted"`  // no record names it, or a revoked key's: deleted
	Failed   int  `json:"failed"`   // a record or the store could not be read, or the delete failed
	Wrapped  bool `json:"wrapped"`  // reached the end of the store; the next run starts over
}

// sweep deletes the secrets of one kind that no record (a key, a webhook
// endpoint) names, once they were last written more than SweepMargin ago. A create
// writes its secret first and its record right after, and a cut-off create
// leaves the secret alone (package keysvc); the margin keeps every create
// still in flight out of reach. A secret whose record exists is never
// touched, whatever the record's state (its current and grace-period
// versions live in it), but for a revoked key's: a revoke destroys the
// secret after committing the record, and one left there is a delete that
// failed, destroyed here. A page on which most old secrets have no record
// stops the sweep before it deletes any of them: the records are then
// elsewhere (another table using the same secret prefix), not missing.
// It walks the store from the cursor the last run saved, at most
// SweepLimit secrets a run, saving the cursor after every page, so a walk
// longer than a run (or one cut off) resumes where it stopped.
func (j *Job) sweep(ctx context.Context, r *run, ss SweptStore) error {
	st := &SweepStats{}
	r.st.Orphans[ss.Kind] = st
	cursorName := sweepCursor + ss.Kind
	cursor, err := j.Cursors.JobCursor(ctx, cursorName)
	if err != nil {
		return err
	}
	margin := cmpOr(j.SweepMargin, DefaultSweepMargin)
	limit := cmpOr(j.SweepLimit, DefaultSweepLimit)
	before := j.Now().Add(-margin)
	for st.Examined < limit && !j.stopping(ctx) {
		page, next, err := ss.Secrets.ListDated(ctx, cursor, min(100, limit-st.Examined))
		if err != nil {
			if cursor != "" && ctx.Err() == nil {
				// A cursor the store no longer takes (expired, or its KEK
				// versions changed): the next run starts over.
				err = errors.Join(err, j.Cursors.SaveJobCursor(ctx, cursorName, ""))
			}
			return fmt.Errorf("orphan sweep of %s: list: %w", ss.Kind, err)
		}
		var orphans, revoked []secret.Listed
		young := 0
		for _, l := range page {
			st.Examined++
			if l.Written.After(before) {
				young++
				continue
			}
			switch own, err := ss.Owner(ctx, l.Name); {
			case err != nil:
				st.Failed++
				j.Log.ErrorContext(ctx, "rotate: orphan sweep", "run_id", r.id, "kind", ss.Kind, "secret", l.Name, "error", err.Error())
			case own == Revoked:
				st.Revoked++
				revoked = append(revoked, l)
			case own == Unowned:
				orphans = append(orphans, l)
			default:
				st.Owned++
			}
		}
		// Real orphans are rare among owned secrets. A page of mostly
		// orphans means the records are elsewhere: another deployment's
		// table sharing this secret prefix. Delete nothing, and say so.
		st.Young += young
		if len(orphans) >= sweepBrake && len(orphans)*2 > len(page)-young {
			return fmt.Errorf("orphan sweep of %s: stopped: %d of %d secrets on a page have no record; does another table use the secret prefix?", ss.Kind, len(orphans), len(page))
		}
		for _, l := range append(orphans, revoked...) {
			if err := ss.Secrets.Delete(ctx, l.Name); err != nil {
				st.Failed++
				j.Log.ErrorContext(ctx, "rotate: orphan sweep", "run_id", r.id, "kind", ss.Kind, "secret", l.Name, "error", err.Error())
				continue
			}
			st.Deleted++
			j.Log.InfoContext(ctx, "rotate: orphan secret deleted", "run_id", r.id, "kind", ss.Kind, "secret", l.Name,
				"last_written", l.Written.UTC().Format(time.RFC3339))
		}
		if err := j.Cursors.SaveJobCursor(ctx, cursorName, next); err != nil {
			return err
		}
		if next == "" {
			st.Wrapped = true
			break
		}
		cursor = next
	}
	if st.Failed > 0 {
		return fmt.Errorf("orphan sweep of %s: %d secrets not handled; a later walk tries again", ss.Kind, st.Failed)
	}
	return nil
}

func cmpOr[T int | time.Duration](v, def T) T {
	if v <= 0 {
		return def
	}
	return v
}
