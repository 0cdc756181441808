package secret

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// KEKRotation is what a request to rotate the KEK did.
type KEKRotation struct {
	KEK       string `json:"kek"`                        // the secret holding the KEKs
	Requested string `json:"requested"`                  // RotateOnRequest or RotateOnSchedule
	Rotated   bool   `json:"rotated"`                    // a new KEK version is current
	From      string `json:"from_kek_version,omitempty"` // the KEK version it replaced (or that stays current)
	To        string `json:"to_kek_version,omitempty"`   // the new current version
	Skipped   string `json:"skipped,omitempty"`          // why a scheduled rotation did not rotate
}

// Who asked for a rotation.
const (
	RotateOnRequest  = "request"
	RotateOnSchedule = "schedule"
)

// ErrNoEnvelope: a KEK rotation was asked of a deployment whose secret
// store (SECRET_STORE) is not the envelope store; no KEK encrypts its
// secrets, and nothing would re-wrap under a new one.
var ErrNoEnvelope = errors.New("the secret store is not the envelope store")

// RotateKEK rotates the KEK of the primary store, an envelope store. With
// olderThan 0 it is an operator's request: it rotates now, or fails with
// ErrNoEnvelope or ErrRewrapPending. With olderThan > 0 it is the schedule:
// it rotates only when the current KEK was made more than olderThan ago,
// and otherwise (not due, a re-wrap still pending, or no envelope store)
// reports why in Skipped, without an error. The lifecycle job's Upkeep then
// re-wraps what the old KEK sealed and retires it.
func (c *Chain) RotateKEK(ctx context.Context, olderThan time.Duration) (KEKRotation, error) {
	r := KEKRotation{Requested: RotateOnRequest}
	if olderThan > 0 {
		r.Requested = RotateOnSchedule
	}
	env, ok := c.Primary.(*Envelope)
	if ok {
		r.KEK = env.Keyring().SecretName()
	} else {
		if olderThan > 0 {
			r.Skipped = "the secret store is not the envelope store"
			return r, nil
		}
		return r, fmt.Errorf("rotate kek: %w", ErrNoEnvelope)
	}
	k := env.Keyring()
	cur, _, err := k.Current(ctx) // creates the secret on first use
	if err != nil {
		return r, err
	}
	r.From = cur
	if olderThan > 0 {
		prev, err := k.Previous(ctx)
		if err != nil {
			return r, err
		}
		if prev != "" {
			r.Skipped = "the previous kek is still being re-wrapped"
			return r, nil
		}
		at, err := k.created(ctx, cur)
		if err != nil {
			return r, err
		}
		if at.IsZero() || time.Since(at) <= olderThan {
			r.Skipped = "the current kek is not due"
			return r, nil
		}
	}
	to, err := k.Rotate(ctx)
	if olderThan > 0 && errors.Is(err, ErrRewrapPending) { // a concurrent run rotated first
		r.Skipped = "the previous kek is still being re-wrapped"
		return r, nil
	}
	if err != nil {
		return r, err
	}
	r.Rotated, r.To = true, to
	return r, nil
}

// RotateKEK rotates the KEKs of every chain (Chain.RotateKEK), each on its
// own: one refused or failed leaves the others rotated, and the error says
// which.
func (cs Chains) RotateKEK(ctx context.Context, olderThan time.Duration) ([]KEKRotation, error) {
	var out []KEKRotation
	var errs []error
	for _, c := range cs {
		r, err := c.RotateKEK(ctx, olderThan)
		out = append(out, r)
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}
