package webhook

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
)

// MaxURLLength is the longest endpoint URL accepted, in bytes.
const MaxURLLength = 2048

// Sentinel errors of ValidateURL, CheckHost and Send. The message of an error
// wrapping one of them is safe to show to the endpoint's owner as it is.
var (
	// ErrInvalidURL: the URL is not an acceptable endpoint URL.
	ErrInvalidURL = errors.New("invalid webhook url")
	// ErrForbiddenAddress: the host is, or resolves to, an address webhooks
	// may not be sent to (see ForbiddenAddr).
	ErrForbiddenAddress = errors.New("webhook address not allowed")
	// ErrUnresolvable: the host has no addresses.
	ErrUnresolvable = errors.New("webhook host does not resolve")
)

// publicError is an error whose message is meant for the endpoint's owner.
type publicError struct {
	kind error // one of the sentinels above
	msg  string
}

func (e *publicError) Error() string { return e.msg }
func (e *publicError) Unwrap() error { return e.kind }

func invalidURL(msg string) error { return &publicError{kind: ErrInvalidURL, msg: msg} }

// ValidateURL checks the form of an endpoint URL, without resolving it: an
// absolute https URL (http too when allowPrivate, for deployments that allow
// private test endpoints) of at most MaxURLLength bytes, with a host, an
// optional port from 1 to 65535, and no user name, password or fragment.
// Errors wrap ErrInvalidURL and have messages fit for a 400 response.
func ValidateURL(raw string, allowPrivate bool) error {
	if raw == "" {
		return invalidURL("url is required")
	}
	if len(raw) > MaxURLLength {
		return invalidURL("url must be at most " + strconv.Itoa(MaxURLLength) + " characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalidURL("url is not a valid URL")
	}
	switch {
	case u.Scheme == "":
		return invalidURL("url must be absolute, like https://example.com/webhooks")
	case u.Scheme == "http" && allowPrivate:
	case u.Scheme != "https" && allowPrivate:
		return invalidURL("url must use https or http")
	case u.Scheme != "https":
		return invalidURL("url must use https")
	}
	if u.Opaque != "" || u.Hostname() == "" {
		return invalidURL("url must include a host")
	}
	if u.User != nil {
		return invalidURL("url must not include a user name or password")
	}
	if strings.Contains(raw, "#") {
		return invalidURL("url must not include a fragment (#...)")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalidURL("url port must be from 1 to 65535")
		}
	}
	return nil
}
