package rotate

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/secret"
)

// KEKs rotates the envelope store's key-encryption keys, one per kind of
// secret (secret.Chains' RotateKEK): now when olderThan is 0, else each
// only once it is older than olderThan.
type KEKs interface {
	RotateKEK(ctx context.Context, olderThan time.Duration) ([]secret.KEKRotation, error)
}

// Request is what an invocation asks of the job beside its scheduled work,
// read from the event's detail. The schedule's events carry {}; an operator
// rotates the KEK by invoking the function with {"detail":{"rotate_kek":true}}
// (make kek-rotate locally).
type Request struct {
	RotateKEK bool `json:"rotate_kek"`
}

// ParseRequest reads the request in an event's detail: empty or {} is a
// plain scheduled run; anything that is not the Request object is refused,
// so a mistyped operator request never passes for a scheduled run.
func ParseRequest(e events.EventBridgeEvent) (Request, error) {
	var r Request
	if len(e.Detail) == 0 || string(e.Detail) == "null" {
		return r, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(e.Detail, &fields); err != nil {
		return r, fmt.Errorf("rotate: event detail: %w", err)
	}
	for f := range fields {
		if f != "rotate_kek" {
			return r, fmt.Errorf("rotate: event detail: unknown field %q (only rotate_kek)", f)
		}
	}
	if err := json.Unmarshal(e.Detail, &r); err != nil {
		return r, fmt.Errorf("rotate: event detail: %w", err)
	}
	return r, nil
}

// rotateKEK rotates the KEK when the request asks (an error then fails the
// invocation, so the operator sees it) or when the schedule says it is due
// (KEKMaxAge; whatever keeps it from rotating is only reported).
func (j *Job) rotateKEK(ctx context.Context, r *run, req Request) error {
	if j.KEKs == nil || !req.RotateKEK && j.KEKMaxAge <= 0 {
		if req.RotateKEK {
			return fmt.Errorf("rotate kek: %w", secret.ErrNoEnvelope)
		}
		return nil
	}
	age := j.KEKMaxAge
	if req.RotateKEK {
		age = 0
	}
	krs, err := j.KEKs.RotateKEK(ctx, age)
	r.st.KEK = krs
	for _, kr := range krs {
		if kr.Rotated {
			j.Log.InfoContext(ctx, "rotate: new kek is current", "run_id", r.id, "kek", kr.KEK, "requested", kr.Requested,
				"from_kek_version", kr.From, "to_kek_version", kr.To)
		}
	}
	return err
}
