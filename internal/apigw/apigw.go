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
	"io"
	"log/slog"
	"strconv"
	"strings"

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
var status = []struct {
	err  error
	code int
	name string
	msg  string // shown when the error carries no public message
}{
	{key.ErrInvalid, 400, "invalid_request", "the request is not valid"},
	{ErrUnauthenticated, 401, "unauthenticated", "a valid token with sub and merchant_id is required"},
	{ErrForbidden, 403, "forbidden", "your role may not do this"},
	{key.ErrNotFound, 404, "not_found", "not found"},
	{key.ErrConflict, 409, "conflict", "the request conflicts with the current state"},
	{ErrTooLarge, 413, "payload_too_large", fmt.Sprintf("request bodies are limited to %d bytes", MaxBody)},
	{key.ErrRateLimited, 429, "rate_limited", "too many attempts; retry later"},
	{key.ErrUnavailable, 503, "unavailable", "a dependency is unavailable; retry later"},
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

// Decode parses a JSON object body into dst strictly: unknown fields, wrong
// types, trailing data and oversized bodies are errors. An empty body is
// allowed only when optional is true.
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
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return nil, decodeError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, key.Invalid("body must hold a single JSON object")
	}
	return raw, nil
}

func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return key.Invalid("body is not valid JSON")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return key.Invalid("body must be a JSON object")
		}
		return key.Invalid("field %q must be %s", typ.Field, jsonKind(typ.Type.Kind().String()))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return key.Invalid("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	}
	var invalid *key.InvalidError
	if errors.As(err, &invalid) {
		return err
	}
	return key.Invalid("body is not valid: %s", strings.TrimPrefix(err.Error(), "json: "))
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	case "bool":
		return "a boolean"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	}
	return "of another type"
}
