// Package apigw turns API Gateway HTTP API (payload 2.0) events into calls
// and results into responses: the principal from the JWT claims, roles, strict
// JSON bodies, and the one table from errors to status codes.
package apigw

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/key"
)

type (
	Request  = events.APIGatewayV2HTTPRequest
	Response = events.APIGatewayV2HTTPResponse
	// Handler serves API Gateway HTTP API events. Every HTTP outcome is a
	// response; a returned error means the platform answers 5xx.
	Handler func(context.Context, Request) (Response, error)
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// HTTP-level errors (the domain's are in package key).
var (
	ErrUnauthenticated = errors.New("unauthenticated")
	ErrForbidden       = errors.New("forbidden")
	ErrTooLarge        = errors.New("payload too large")
)

// status is the one table from errors to HTTP status and public code.
var status = []statusEntry{
	{key.ErrInvalid, 400, "invalid_request", "the request is not valid"},
	{ErrUnauthenticated, 401, "unauthenticated", "a valid token with sub and merchant_id is required"},
	{ErrForbidden, 403, "forbidden", "your role may not do this"},
	{key.ErrNotFound, 404, "not_found", "not found"},
	{key.ErrConflict, 409, "conflict", "the request conflicts with the current state"},
	{ErrTooLarge, 413, "payload_too_large", fmt.Sprintf("request bodies are limited to %d bytes", MaxBody)},
	{key.ErrRateLimited, 429, "rate_limited", "too many attempts; retry later"},
	{key.ErrUnavailable, 503, "unavailable", "a dependency is unavailable; retry later"},
}

type statusEntry struct {
	err  error
	code int
	name string
	msg  string // shown when the error carries no public message
}

// ErrorBody is the body of every error response.
type ErrorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		RequestID string `json:"request_id"`
	} `json:"error"`
}

// Error maps err to its response. Unknown errors are 500 with a generic
// message; their text is logged, never shown.
func Error(ctx context.Context, log *slog.Logger, requestID string, err error) Response {
	code, name, msg := 500, "internal", "internal error"
	for _, s := range status {
		if errors.Is(err, s.err) {
			code, name, msg = s.code, s.name, s.msg
			break
		}
	}
	var invalid *key.InvalidError
	var public *key.PublicError
	switch {
	case code == 500:
		if errors.Is(err, context.DeadlineExceeded) {
			code, name, msg = 503, "unavailable", "a dependency did not answer in time; retry later"
		}
		log.ErrorContext(ctx, "request failed", "request_id", requestID, "error", err.Error())
	case errors.As(err, &invalid):
		msg = invalid.Msg
	case errors.As(err, &public):
		msg = public.Msg
	}
	if key.SecretShaped(msg) { // a message never carries a secret, whatever built it
		msg = status[slices.IndexFunc(status, func(s statusEntry) bool { return s.name == name })].msg
	}
	var b ErrorBody
	b.Error.Code, b.Error.Message, b.Error.RequestID = name, msg, requestID
	resp := JSON(code, b)
	var rl *key.RateLimitedError
	if errors.As(err, &rl) {
		resp.Headers["Retry-After"] = strconv.Itoa(max(1, int((rl.RetryAfter+999_999_999)/1_000_000_000)))
	}
	return resp
}

// JSON renders v with status code.
func JSON(code int, v any) Response {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = 500, []byte(`{"error":{"code":"internal","message":"internal error","request_id":""}}`)
	}
	return Response{
		StatusCode: code,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store"},
		Body:       string(body),
	}
}

// NoContent is an empty 204.
func NoContent() Response {
	return Response{StatusCode: 204, Headers: map[string]string{"Cache-Control": "no-store"}}
}

// Body returns the raw request body, enforcing MaxBody.
func Body(req Request) ([]byte, error) {
	raw := []byte(req.Body)
	if req.IsBase64Encoded {
		if base64.StdEncoding.DecodedLen(len(req.Body)) > MaxBody+3 {
			return nil, ErrTooLarge
		}
		var err error
		if raw, err = base64.StdEncoding.DecodeString(req.Body); err != nil {
			return nil, key.Invalid("body is not valid base64")
		}
	}
	if len(raw) > MaxBody {
		return nil, ErrTooLarge
	}
	return raw, nil
}

// Decode parses a JSON object body into dst strictly, so that every body has
// exactly one reading: unknown members, member names that differ from the
// documented ones only in case, a member given twice, invalid UTF-8 (raw or
// escaped), wrong types, a body that is not an object (null included),
// trailing data and oversized bodies are all errors.
// An empty body is allowed only when optional is true.
func Decode(req Request, dst any, optional bool) ([]byte, error) {
	raw, err := Body(req)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(string(raw)) == "" {
		if optional {
			return raw, nil
		}
		return nil, key.Invalid("a JSON body is required")
	}
	if err := Unmarshal(raw, dst); err != nil {
		return nil, err
	}
	// null decodes into a struct without error and changes nothing; a body
	// is an object, so null is refused like any other non-object.
	if strings.TrimSpace(string(raw)) == "null" {
		return nil, key.Invalid("body must be a JSON object")
	}
	return raw, nil
}

// Unmarshal decodes one JSON value into dst with Decode's rules, returning
// errors whose messages are fit for a 400 response. encoding/json alone is
// lenient (it matches member names ignoring case, keeps the last of a
// duplicated member and replaces invalid UTF-8), so the body is checked
// first, in one pass over its tokens (see strict.go).
func Unmarshal(data []byte, dst any) error {
	if !utf8.Valid(data) || loneSurrogate(data) {
		return key.Invalid("body is not valid UTF-8")
	}
	if err := checkStrict(data, dst); err != nil {
		return err
	}
	err := json.Unmarshal(data, dst)
	if err == nil {
		return nil
	}
	var invalid *key.InvalidError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &invalid):
		return invalid
	case errors.As(err, &te):
		name, _, _ := strings.Cut(te.Field, ".")
		if name == "" {
			return key.Invalid("body must be a JSON object")
		}
		if !slices.Contains(fieldNames(dst), name) {
			name, _ = safeName(name)
		}
		if name == "" {
			return key.Invalid("a field has the wrong type")
		}
		return key.Invalid("field %q must be %s", name, jsonKind(te.Type))
	}
	return key.Invalid("body is not valid JSON")
}

// DecodeField decodes the value of the body's field name into dst with
// Decode's rules (for bodies read first into raw values, like a PATCH).
func DecodeField(name string, v json.RawMessage, dst any) error {
	err := json.Unmarshal(v, dst)
	if err == nil {
		return nil
	}
	var invalid *key.InvalidError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &invalid):
		return invalid
	case errors.As(err, &te) && te.Type != nil:
		return key.Invalid("field %q must be %s", name, jsonKind(te.Type))
	}
	return key.Invalid("field %q has the wrong type", name)
}

// UnknownField is the error for a member dst does not have. A name that
// matches a documented one but for case says so.
func UnknownField(name string, known []string) error {
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return key.Invalid("unknown field; field names are case-sensitive: did you mean %q?", k)
		}
	}
	if s, ok := safeName(name); ok {
		return key.Invalid("unknown field %q", s)
	}
	return key.Invalid("the body has an unknown field")
}

// safeName returns name when it is a short plain identifier, one that is
// fit to echo.
func safeName(name string) (string, bool) {
	if name == "" || len(name) > 40 || key.SecretShaped(name) {
		return "", false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return "", false
		}
	}
	return name, true
}

// fieldNames lists the JSON member names of the struct dst points to.
func fieldNames(dst any) []string {
	t := reflect.TypeOf(dst)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		if name := jsonName(f); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// jsonName is the member name of struct field f, or "" when it has none.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	switch name {
	case "-":
		return ""
	case "":
		return f.Name
	}
	return name
}

func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer in range"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "of another type"
}
