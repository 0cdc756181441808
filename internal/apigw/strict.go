package apigw

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"

	"github.com/paykeys/paykeys/internal/key"
)

var unmarshaler = reflect.TypeFor[json.Unmarshaler]()

// checkStrict reads data as one JSON value and refuses what encoding/json
// would let through: a member given twice in any object, a member of a
// struct that is not one of its fields exactly as spelled (encoding/json
// matches names ignoring case), and anything after the value. Errors come in
// the order the body holds them.
func checkStrict(data []byte, dst any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are tokens here; their range is Unmarshal's business
	if err := checkValue(dec, reflect.TypeOf(dst), fieldNames(dst)); err != nil {
		var invalid *key.InvalidError
		if errors.As(err, &invalid) {
			return invalid
		}
		return key.Invalid("body is not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return key.Invalid("body must hold a single JSON object")
	}
	return nil
}

// checkValue reads the next value from dec. t is the Go type it will be
// decoded into (nil when that is not known); known are the top-level
// struct's field names, which the message for an unknown member suggests.
func checkValue(dec *json.Decoder, t reflect.Type, known []string) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t != nil && reflect.PointerTo(t).Implements(unmarshaler) {
		t = nil // the type reads its own JSON
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct {
			fields = structFields(t)
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return err
			}
			name, _ := tok.(string)
			if seen[name] {
				if s, ok := safeName(name); ok {
					return key.Invalid("field %q is given more than once", s)
				}
				return key.Invalid("a field is given more than once")
			}
			seen[name] = true
			var ft reflect.Type
			switch {
			case fields != nil:
				var ok bool
				if ft, ok = fields[name]; !ok {
					return UnknownField(name, known)
				}
			case t != nil && t.Kind() == reflect.Map:
				ft = t.Elem()
			}
			if err := checkValue(dec, ft, known); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	case json.Delim('['):
		var et reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			et = t.Elem()
		}
		for dec.More() {
			if err := checkValue(dec, et, known); err != nil {
				return err
			}
		}
		_, err = dec.Token()
		return err
	}
	return nil
}

// structFields maps the JSON member names of struct type t to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	fields := map[string]reflect.Type{}
	for f := range t.Fields() {
		if name := jsonName(f); name != "" {
			fields[name] = f.Type
		}
	}
	return fields
}

// loneSurrogate reports whether a string in data holds an escaped UTF-16
// surrogate that is not half of a pair, which encoding/json would turn into
// U+FFFD instead of refusing.
func loneSurrogate(data []byte) bool {
	in := false
	for i := 0; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			in = !in
		case c == '\\' && in && i+1 < len(data):
			if data[i+1] != 'u' {
				i++ // \" \\ and the like
				continue
			}
			r, ok := hex4(data, i+2)
			switch {
			case !ok:
				return false // not JSON; the tokenizer says so
			case r >= 0xDC00 && r <= 0xDFFF:
				return true
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := rune(0), i+11 < len(data) && data[i+6] == '\\' && data[i+7] == 'u'
				if ok {
					lo, ok = hex4(data, i+8)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 11
			default:
				i += 5
			}
		}
	}
	return false
}

// hex4 reads the four hex digits at data[i:].
func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}
