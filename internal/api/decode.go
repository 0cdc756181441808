package api

import (
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
		return key.Invalid("timestamps must be RFC 3339, like 2027-01-31T00:00:00Z")
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

// patchBody holds a PATCH body's fields as raw values, so that a field that
// is absent (nil) differs from one set to null (which clears expires_at,
// rotation_days, scopes and allowed_ips).
type patchBody struct {
	Name         json.RawMessage `json:"name"`
	Status       json.RawMessage `json:"status"`
	AuthModes    json.RawMessage `json:"auth_modes"`
	Scopes       json.RawMessage `json:"scopes"`
	AllowedIPs   json.RawMessage `json:"allowed_ips"`
	RotationDays json.RawMessage `json:"rotation_days"`
	ExpiresAt    json.RawMessage `json:"expires_at"`
}

// decodePatch reads a PATCH body: a patch may change name, scopes,
// allowed_ips, auth_modes, expires_at, rotation_days and status.
func decodePatch(req apigw.Request) (key.Patch, error) {
	var b patchBody
	var p key.Patch
	if _, err := apigw.Decode(req, &b, false); err != nil {
		return p, err
	}
	for _, err := range []error{
		field(b.Name, &p.Name, "name", false),
		field(b.Status, &p.Status, "status", false),
		field(b.AuthModes, &p.AuthModes, "auth_modes", false),
		field(b.Scopes, &p.Scopes, "scopes", true),
		field(b.AllowedIPs, &p.AllowedIPs, "allowed_ips", true),
		field(b.RotationDays, &p.RotationDays, "rotation_days", true),
	} {
		if err != nil {
			return p, err
		}
	}
	if b.ExpiresAt != nil {
		var t *Timestamp
		if err := apigw.DecodeField("expires_at", b.ExpiresAt, &t); err != nil {
			return p, err
		}
		p.ExpiresAt = key.Field[*time.Time]{Set: true, Value: t.Time()}
	}
	return p, nil
}

// field decodes one patch field that is present; null is allowed only where
// nullable.
func field[T any](v json.RawMessage, f *key.Field[T], name string, nullable bool) error {
	if v == nil {
		return nil
	}
	if string(v) == "null" && !nullable {
		return key.Invalid("field %q must not be null", name)
	}
	f.Set = true
	return apigw.DecodeField(name, v, &f.Value)
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
