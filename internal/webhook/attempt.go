package webhook

import (
	"strings"
	"time"
	"unicode/utf8"
)

// MaxResponseBody is the most of a response body that is read and kept.
const MaxResponseBody = 20 * 1024

// Attempt is the record of one delivery attempt.
type Attempt struct {
	At           time.Time     // when the request started, UTC
	Status       int           // HTTP status, 0 if no response arrived
	Latency      time.Duration // from the start of the request to the end of reading the response, or the failure
	Error        string        // why no response arrived (or the request was refused), safe to show to the endpoint's owner
	ResponseBody string        // at most MaxResponseBody bytes of valid UTF-8
	RetryAfter   string        // the response's Retry-After header, for NextAttempt
}

// Outcome classifies an attempt.
type Outcome int

// The outcomes of an attempt. The zero value is Failed.
const (
	// Failed: no response, or a response other than 2xx and 410 (3xx
	// included, as redirects are never followed). The delivery is retried
	// while attempts are left.
	Failed Outcome = iota
	// Succeeded: a 2xx response. The delivery is done.
	Succeeded
	// Gone: a 410 response. The endpoint is to be disabled and the delivery
	// not retried.
	Gone
)

// String returns "failed", "succeeded" or "gone".
func (o Outcome) String() string {
	switch o {
	case Succeeded:
		return "succeeded"
	case Gone:
		return "gone"
	default:
		return "failed"
	}
}

// Outcome classifies the attempt by its status alone: a response that
// arrived decides, even if reading its body then failed.
func (a Attempt) Outcome() Outcome {
	switch {
	case a.Status >= 200 && a.Status <= 299:
		return Succeeded
	case a.Status == 410:
		return Gone
	default:
		return Failed
	}
}

// TruncateBody returns b as valid UTF-8 (each run of invalid bytes replaced
// by U+FFFD), cut at a character boundary to at most MaxResponseBody bytes.
func TruncateBody(b []byte) string {
	s := strings.ToValidUTF8(string(b[:min(len(b), 3*MaxResponseBody)]), "\uFFFD")
	if len(s) <= MaxResponseBody {
		return s
	}
	n := MaxResponseBody
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
