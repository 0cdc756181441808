package store

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"

	"github.com/paykeys/paykeys/internal/key"
)

// A cursor names the last item of a page: its sort key S (gsi1sk of a key,
// sk of an audit record) and its ID I. On the wire it is the base64url of the
// JSON followed by an HMAC tag over the list's kind, the merchant and the
// JSON, so that a cursor only works for the list and merchant it came from.
// The store never trusts it beyond its shape: the next page's start key is
// rebuilt for the calling merchant, so a cursor cannot read another tenant's
// items whatever key signed it.
type cursor struct {
	S string `json:"s"`
	I string `json:"i"`
}

// Kinds of list a cursor may belong to.
const (
	cursorKeys       = "keys"
	cursorAudit      = "audit"
	cursorEndpoints  = "endpoints"
	cursorDeliveries = "deliveries"
)

const (
	cursorTagLen = 16   // bytes of HMAC-SHA256 kept
	maxCursorLen = 1024 // characters; anything longer was not issued here
	maxAuditID   = 256  // bytes of an audit record ID in a cursor
)

// errBadCursor is what every unusable cursor yields.
var errBadCursor error = &key.InvalidError{Msg: "cursor is not valid"}

func (s *Store) cursorTag(kind, merchant string, payload []byte) []byte {
	m := hmac.New(sha256.New, s.cursorKey)
	m.Write([]byte(kind))
	m.Write([]byte{0})
	m.Write([]byte(merchant))
	m.Write([]byte{0})
	m.Write(payload)
	return m.Sum(nil)[:cursorTagLen]
}

func (s *Store) encodeCursor(kind, merchant string, c cursor) string {
	payload, _ := json.Marshal(c) // two strings: cannot fail
	raw := append(payload, s.cursorTag(kind, merchant, payload)...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// decodeCursor checks a cursor's encoding, tag and shape. Every failure is an
// error wrapping key.ErrInvalid with the message "cursor is not valid".
func (s *Store) decodeCursor(kind, merchant, token string) (cursor, error) {
	if len(token) > maxCursorLen {
		return cursor{}, errBadCursor
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(token)
	if err != nil || len(raw) <= cursorTagLen {
		return cursor{}, errBadCursor
	}
	payload, tag := raw[:len(raw)-cursorTagLen], raw[len(raw)-cursorTagLen:]
	if !hmac.Equal(tag, s.cursorTag(kind, merchant, payload)) {
		return cursor{}, errBadCursor
	}
	var c cursor
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil || dec.More() {
		return cursor{}, errBadCursor
	}
	if !validCursor(kind, c) {
		return cursor{}, errBadCursor
	}
	return c, nil
}

// validCursor checks that S is "<fixed-width time>#<I>" and that I has the
// shape of the list's IDs.
func validCursor(kind string, c cursor) bool {
	switch kind {
	case cursorKeys:
		if !key.ValidClientID(c.I) {
			return false
		}
	case cursorAudit, cursorEndpoints, cursorDeliveries:
		if c.I == "" || len(c.I) > maxAuditID {
			return false
		}
	default:
		return false
	}
	n := len(timeLayout)
	if len(c.S) != n+1+len(c.I) || c.S[n] != '#' || c.S[n+1:] != c.I {
		return false
	}
	_, ok := parseFixedTime(c.S[:n])
	return ok
}
