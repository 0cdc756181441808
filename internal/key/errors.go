package key

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Callers wrap them with context and the API maps them to
// status codes in one table; the message of an *InvalidError is safe to show.
var (
	ErrInvalid     = errors.New("invalid request")
	ErrNotFound    = errors.New("not found")
	ErrConflict    = errors.New("conflict")
	ErrRateLimited = errors.New("rate limited")
	ErrUnavailable = errors.New("unavailable")
)

// InvalidError is a validation failure with a message meant for the caller.
type InvalidError struct{ Msg string }

func (e *InvalidError) Error() string { return e.Msg }
func (e *InvalidError) Unwrap() error { return ErrInvalid }

// Invalid returns a validation error with a formatted, caller-safe message.
func Invalid(format string, args ...any) error {
	return &InvalidError{Msg: fmt.Sprintf(format, args...)}
}

// PublicError is an error whose message may be shown to the caller as is.
type PublicError struct {
	Kind error // one of the sentinels above
	Msg  string
}

func (e *PublicError) Error() string { return e.Msg }
func (e *PublicError) Unwrap() error { return e.Kind }

// NotFound says which object was not found, in words safe to show: the ID
// is named only when it has one of our ID shapes (EchoableID), so a secret
// or anything else pasted into a URL is never echoed.
func NotFound(what, id string) error {
	if !EchoableID(id) {
		return &PublicError{Kind: ErrNotFound, Msg: what + " not found"}
	}
	return &PublicError{Kind: ErrNotFound, Msg: what + " " + id + " not found"}
}

// Conflict explains a 409 in words safe to show.
func Conflict(format string, args ...any) error {
	return &PublicError{Kind: ErrConflict, Msg: fmt.Sprintf(format, args...)}
}

// RateLimitedError is a 429 with the time after which a retry may succeed.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string { return "too many attempts; retry later" }
func (e *RateLimitedError) Unwrap() error { return ErrRateLimited }
