package signature

import (
	"bytes"
	"slices"
	"strings"
)

// The canonical query (README: Signing a request): every parameter as name=value (name= when
// it has no value), names and values percent-encoded per RFC 3986 (the
// unreserved characters A-Za-z0-9-._~ as they are, every other byte as %XX in
// upper-case hex), sorted by encoded name and then encoded value, joined by
// '&'; the empty string when there is none.

var errBadQuery = &detailed{ErrMalformed, " query: invalid percent-encoding"}

const upperHex = "0123456789ABCDEF"

func isUnreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// CanonicalQueryRaw returns the canonical form of a raw (still
// percent-encoded) query string, as found after the '?' of a URL. Names and
// values are percent-decoded and encoded again, so "%7e" becomes "~" and
// "%c3%a9" becomes "%C3%A9". A '+' is a plus sign, not a space, and becomes
// "%2B". A parameter with no '=' has an empty value ("a" and "a=" are both
// "a="); only the first '=' splits name from value. Empty parameters, as in
// "a=1&&b=2", are skipped. A '%' not followed by two hex digits is an error
// (ErrMalformed).
//
// A query that is already canonical is returned as it is, without allocating.
func CanonicalQueryRaw(raw string) (string, error) {
	if raw == "" || isCanonical(raw) {
		return raw, nil
	}
	// One buffer holds every encoded name and value; re-encoding at most
	// triples a byte, so it never grows.
	buf := make([]byte, 0, 3*len(raw))
	pairs := make([]span, 0, strings.Count(raw, "&")+1)
	for raw != "" {
		var seg string
		seg, raw, _ = strings.Cut(raw, "&")
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		var s span
		var ok bool
		s.name0 = len(buf)
		if buf, ok = appendReencoded(buf, name); !ok {
			return "", errBadQuery
		}
		s.name1 = len(buf)
		if buf, ok = appendReencoded(buf, value); !ok {
			return "", errBadQuery
		}
		s.value1 = len(buf)
		pairs = append(pairs, s)
	}
	return joinSpans(buf, pairs), nil
}

// CanonicalQueryValues returns the canonical query of already-decoded
// parameters, such as API Gateway's multiValueQueryStringParameters. A name
// with no values at all counts as one parameter with an empty value.
func CanonicalQueryValues(params map[string][]string) string {
	if len(params) == 0 {
		return ""
	}
	size, count := 0, 0
	for name, values := range params {
		if len(values) == 0 {
			size += 3 * len(name)
			count++
		}
		for _, v := range values {
			size += 3 * (len(name) + len(v))
			count++
		}
	}
	buf := make([]byte, 0, size)
	pairs := make([]span, 0, count)
	for name, values := range params {
		if len(values) == 0 {
			values = []string{""}
		}
		for _, v := range values {
			var s span
			s.name0 = len(buf)
			buf = appendEncoded(buf, name)
			s.name1 = len(buf)
			buf = appendEncoded(buf, v)
			s.value1 = len(buf)
			pairs = append(pairs, s)
		}
	}
	return joinSpans(buf, pairs)
}

// span locates one encoded parameter in a shared buffer: the name is
// buf[name0:name1] and the value buf[name1:value1].
type span struct{ name0, name1, value1 int }

// joinSpans sorts the parameters by encoded name, then encoded value, and
// joins them as name=value with '&'.
func joinSpans(buf []byte, pairs []span) string {
	if len(pairs) == 0 {
		return ""
	}
	slices.SortFunc(pairs, func(a, b span) int {
		if c := bytes.Compare(buf[a.name0:a.name1], buf[b.name0:b.name1]); c != 0 {
			return c
		}
		return bytes.Compare(buf[a.name1:a.value1], buf[b.name1:b.value1])
	})
	var out strings.Builder
	out.Grow(len(buf) + 2*len(pairs) - 1)
	for i, s := range pairs {
		if i > 0 {
			out.WriteByte('&')
		}
		out.Write(buf[s.name0:s.name1])
		out.WriteByte('=')
		out.Write(buf[s.name1:s.value1])
	}
	return out.String()
}

// appendEncoded appends s percent-encoded per RFC 3986.
func appendEncoded(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		dst = appendEncodedByte(dst, s[i])
	}
	return dst
}

func appendEncodedByte(dst []byte, c byte) []byte {
	if isUnreserved(c) {
		return append(dst, c)
	}
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

// appendReencoded percent-decodes s (where '+' is just a plus sign) and
// appends it percent-encoded per RFC 3986. It reports false if s holds a '%'
// not followed by two hex digits.
func appendReencoded(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' {
			if i+2 >= len(s) {
				return dst, false
			}
			hi, ok1 := hexVal(s[i+1])
			lo, ok2 := hexVal(s[i+2])
			if !ok1 || !ok2 {
				return dst, false
			}
			c = hi<<4 | lo
			i += 2
		}
		dst = appendEncodedByte(dst, c)
	}
	return dst, true
}

func hexVal(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

func upperHexVal(c byte) (byte, bool) {
	if 'a' <= c && c <= 'f' {
		return 0, false
	}
	return hexVal(c)
}

// isCanonical reports whether raw is already a canonical query: no empty
// parameters, each one name=value with both parts in canonical encoding, in
// order. Comparing whole "name=value" strings would not do: "a-=1" sorts
// before "a=1" as a string but after it by name.
func isCanonical(raw string) bool {
	var prevName, prevValue string
	first := true
	for {
		seg, rest, more := strings.Cut(raw, "&")
		name, value, ok := strings.Cut(seg, "=")
		if !ok || !isCanonicalComponent(name) || !isCanonicalComponent(value) {
			return false
		}
		if !first {
			c := strings.Compare(prevName, name)
			if c > 0 || c == 0 && prevValue > value {
				return false
			}
		}
		prevName, prevValue, first = name, value, false
		if !more {
			return true
		}
		raw = rest
	}
}

// isCanonicalComponent reports whether s is exactly what appendEncoded makes
// of some bytes: unreserved characters, and %XX in upper case for the rest.
func isCanonicalComponent(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isUnreserved(c) {
			continue
		}
		if c != '%' || i+2 >= len(s) {
			return false
		}
		hi, ok1 := upperHexVal(s[i+1])
		lo, ok2 := upperHexVal(s[i+2])
		if !ok1 || !ok2 || isUnreserved(hi<<4|lo) {
			return false
		}
		i += 2
	}
	return true
}
