package api

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
)

// Timestamp is an RFC 3339 time in a request body.
type Timestamp time.Time

// UnmarshalJSON accepts only RFC 3339 strings.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return key.Invalid("timestamps must be RFC 3339 strings, like 2027-01-31T00:00:00Z")
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return key.Invalid("%q is not an RFC 3339 timestamp, like 2027-01-31T00:00:00Z", s)
	}
	*t = Timestamp(v)
	return nil
}

// MarshalJSON writes the time in RFC 3339.
func (t Timestamp) MarshalJSON() ([]byte, error) { return json.Marshal(time.Time(t).UTC()) }

// Time returns the time, or nil.
func (t *Timestamp) Time() *time.Time {
	if t == nil {
		return nil
	}
	v := time.Time(*t)
	return &v
}

// decodePatch reads a PATCH body, telling a field that is absent from one
// set to null (which clears expires_at, rotation_days, scopes and allowed_ips).
func decodePatch(req apigw.Request) (key.Patch, error) {
	var raw map[string]json.RawMessage
	var p key.Patch
	if _, err := apigw.Decode(req, &raw, false); err != nil {
		return p, err
	}
	for name, v := range raw {
		var err error
		switch name {
		case "name":
			err = field(v, &p.Name, name, false)
		case "status":
			err = field(v, &p.Status, name, false)
		case "auth_modes":
			err = field(v, &p.AuthModes, name, false)
		case "scopes":
			err = field(v, &p.Scopes, name, true)
		case "allowed_ips":
			err = field(v, &p.AllowedIPs, name, true)
		case "rotation_days":
			err = field(v, &p.RotationDays, name, true)
		case "expires_at":
			var t *Timestamp
			if err = unmarshal(v, &t, name); err == nil {
				p.ExpiresAt = key.Field[*time.Time]{Set: true, Value: t.Time()}
			}
		default:
			err = key.Invalid("unknown field %q; a patch may change name, scopes, allowed_ips, auth_modes, expires_at, rotation_days and status", name)
		}
		if err != nil {
			return p, err
		}
	}
	return p, nil
}

// field decodes one patch field; null is allowed only where nullable.
func field[T any](v json.RawMessage, f *key.Field[T], name string, nullable bool) error {
	if bytes.Equal(bytes.TrimSpace(v), []byte("null")) && !nullable {
		return key.Invalid("field %q must not be null", name)
	}
	f.Set = true
	return unmarshal(v, &f.Value, name)
}

func unmarshal(v json.RawMessage, dst any, name string) error {
	if err := json.Unmarshal(v, dst); err != nil {
		if _, ok := err.(*key.InvalidError); ok {
			return err
		}
		return key.Invalid("field %q has the wrong type", name)
	}
	return nil
}

// header returns a request header; API Gateway lower-cases their names.
func header(req apigw.Request, name string) (string, bool) {
	v, ok := req.Headers[name]
	if !ok {
		for k, hv := range req.Headers {
			if strings.EqualFold(k, name) {
				return hv, true
			}
		}
	}
	return v, ok
}

// notFoundRoute answers a route this function does not serve, such as the
// API's $default route, which catches every undeclared route and method.
// The message never repeats the method or path the caller sent.
func notFoundRoute(req apigw.Request) error {
	if req.RouteKey == "$default" || req.RouteKey == "" {
		return &key.PublicError{Kind: key.ErrNotFound, Msg: "no such route: check the method and path"}
	}
	return key.NotFound("route", req.RouteKey)
}
