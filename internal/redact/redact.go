// Package redact keeps secrets out of logs: its slog handler replaces every
// secret-shaped substring (key.RedactSecrets) of a record's message and of
// every attribute, however deep, before the record is written.
package redact

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"

	"github.com/paykeys/paykeys/internal/key"
)

// Handler wraps h so that nothing secret-shaped reaches it.
func Handler(h slog.Handler) slog.Handler {
	if r, ok := h.(handler); ok {
		return r
	}
	return handler{h}
}

type handler struct{ next slog.Handler }

func (h handler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h handler) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, key.RedactSecrets(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(Attr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h handler) WithAttrs(as []slog.Attr) slog.Handler {
	clean := make([]slog.Attr, len(as))
	for i, a := range as {
		clean[i] = Attr(a)
	}
	return handler{h.next.WithAttrs(clean)}
}

func (h handler) WithGroup(name string) slog.Handler {
	return handler{h.next.WithGroup(key.RedactSecrets(name))}
}

// Attr returns a with every secret-shaped substring of its key and value
// redacted. Values that are not strings (errors, Stringers, slices, maps,
// structs) are checked in the form the JSON handler would write them, and
// written as a redacted string if that form holds a secret.
func Attr(a slog.Attr) slog.Attr {
	a.Key = key.RedactSecrets(a.Key)
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(key.RedactSecrets(v.String()))
	case slog.KindGroup:
		g := v.Group()
		clean := make([]slog.Attr, len(g))
		for i, ga := range g {
			clean[i] = Attr(ga)
		}
		a.Value = slog.GroupValue(clean...)
	case slog.KindAny:
		a.Value = anyValue(v)
	default:
		a.Value = v
	}
	return a
}

func anyValue(v slog.Value) slog.Value {
	text, ok := render(v.Any())
	if !ok || !key.SecretShaped(text) {
		return v
	}
	return slog.StringValue(key.RedactSecrets(text))
}

// render is the text of x as the JSON handler would write it; ok is false
// when it cannot be had (a nil pointer's method panics, say), and then the
// handler writes no text of x either.
func render(x any) (text string, ok bool) {
	defer func() {
		if recover() != nil {
			text, ok = "", false
		}
	}()
	if rv := reflect.ValueOf(x); !rv.IsValid() || rv.Kind() == reflect.Pointer && rv.IsNil() {
		return "", false
	}
	switch x := x.(type) {
	case error:
		return x.Error(), true
	case fmt.Stringer:
		return x.String(), true
	case []byte:
		return string(x), true
	}
	b, err := json.Marshal(x)
	if err != nil {
		return fmt.Sprintf("%+v", x), true
	}
	return string(b), true
}
