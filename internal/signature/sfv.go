package signature

import (
	"encoding/base64"
	"strconv"
	"strings"
)

// A small RFC 8941 (Structured Field Values) parser and serializer: enough
// for Signature-Input, Signature and Content-Digest, which are dictionaries
// whose members are items or inner lists, with parameters. It follows the
// parsing algorithms of RFC 8941 §4.2; anything they reject is an error.

// sfKind is the type of a bare item.
type sfKind uint8

const (
	sfInteger sfKind = iota + 1
	sfDecimal
	sfString
	sfToken
	sfBytes
	sfBoolean
)

// sfItem is a bare item. Num holds integers, Str strings, tokens and the
// text of decimals, Bytes byte sequences, Bool booleans.
type sfItem struct {
	Kind  sfKind
	Num   int64
	Str   string
	Bytes []byte
	Bool  bool
}

// sfParam is one parameter, in order.
type sfParam struct {
	Name  string
	Value sfItem
}

// sfMember is a dictionary member: an item, or an inner list when IsList.
type sfMember struct {
	Name   string
	IsList bool
	Item   sfItem   // when !IsList
	List   []sfItem // when IsList; each item's parameters are in ListParams
	// ListParams[i] are the parameters of List[i].
	ListParams [][]sfParam
	Params     []sfParam // of the item, or of the inner list
	raw        string    // the member as written
}

// Bounds, so a hostile header cannot make the parser work hard.
const (
	maxSFLen     = 8192
	maxSFMembers = 32
	maxSFItems   = 64
	maxSFParams  = 16
)

type sfParser struct {
	s   string
	i   int
	bad bool
}

// parseDictionary parses an RFC 8941 dictionary, with one rule more than
// §4.2.2: a name may come again only with the same value, as it does when a
// header is repeated as it was (an HTTP API joins a repeated header's values
// with ","). A name that comes twice with different values is not ok, since
// which one the sender meant cannot be told; nor is any syntax error.
func parseDictionary(s string) (members []sfMember, ok bool) {
	if len(s) > maxSFLen {
		return nil, false
	}
	p := &sfParser{s: s}
	p.skipSP()
	for p.i < len(p.s) {
		start := p.i
		name := p.key()
		if p.bad {
			return nil, false
		}
		m := sfMember{Name: name}
		if p.peek() == '=' {
			p.i++
			p.memberValue(&m)
		} else {
			m.Item = sfItem{Kind: sfBoolean, Bool: true}
			m.Params = p.params()
		}
		if p.bad {
			return nil, false
		}
		m.raw = p.s[start:p.i]
		if j := indexMember(members, name); j >= 0 {
			if members[j].raw != m.raw {
				return nil, false
			}
			members[j] = m
		} else {
			if len(members) == maxSFMembers {
				return nil, false
			}
			members = append(members, m)
		}
		p.skipOWS()
		if p.i >= len(p.s) {
			return members, true
		}
		if p.s[p.i] != ',' {
			return nil, false
		}
		p.i++
		p.skipOWS()
		if p.i >= len(p.s) {
			return nil, false // a trailing comma
		}
	}
	return members, !p.bad
}

func indexMember(ms []sfMember, name string) int {
	for i := range ms {
		if ms[i].Name == name {
			return i
		}
	}
	return -1
}

func (p *sfParser) memberValue(m *sfMember) {
	if p.peek() != '(' {
		m.Item = p.bareItem()
		m.Params = p.params()
		return
	}
	p.i++
	m.IsList = true
	for !p.bad {
		p.skipSP()
		if p.peek() == ')' {
			p.i++
			m.Params = p.params()
			return
		}
		if len(m.List) == maxSFItems {
			p.bad = true
			return
		}
		item := p.bareItem()
		params := p.params()
		m.List = append(m.List, item)
		m.ListParams = append(m.ListParams, params)
		if c := p.peek(); c != ' ' && c != ')' {
			p.bad = true
		}
	}
}

func (p *sfParser) params() []sfParam {
	var out []sfParam
	for !p.bad && p.peek() == ';' {
		p.i++
		p.skipSP()
		name := p.key()
		v := sfItem{Kind: sfBoolean, Bool: true}
		if p.peek() == '=' {
			p.i++
			v = p.bareItem()
		}
		if p.bad {
			return nil
		}
		replaced := false
		for j := range out {
			if out[j].Name == name {
				out[j].Value, replaced = v, true
			}
		}
		if !replaced {
			if len(out) == maxSFParams {
				p.bad = true
				return nil
			}
			out = append(out, sfParam{name, v})
		}
	}
	return out
}

func (p *sfParser) key() string {
	start := p.i
	if c := p.peek(); !(c >= 'a' && c <= 'z' || c == '*') {
		p.bad = true
		return ""
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.' || c == '*') {
			break
		}
		p.i++
	}
	return p.s[start:p.i]
}

func (p *sfParser) bareItem() sfItem {
	switch c := p.peek(); {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		return p.str()
	case c == ':':
		return p.byteSeq()
	case c == '?':
		return p.boolean()
	case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '*':
		return p.token()
	}
	p.bad = true
	return sfItem{}
}

func (p *sfParser) number() sfItem {
	start := p.i
	if p.peek() == '-' {
		p.i++
	}
	intDigits, fracDigits, dot := 0, 0, false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9':
			if dot {
				fracDigits++
			} else {
				intDigits++
			}
		case c == '.' && !dot:
			dot = true
		default:
			goto done
		}
		p.i++
	}
done:
	text := p.s[start:p.i]
	switch {
	case intDigits == 0:
		p.bad = true
	case !dot && intDigits <= 15:
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			p.bad = true
		}
		return sfItem{Kind: sfInteger, Num: n}
	case dot && intDigits <= 12 && fracDigits >= 1 && fracDigits <= 3:
		return sfItem{Kind: sfDecimal, Str: text}
	default:
		p.bad = true
	}
	return sfItem{}
}

func (p *sfParser) str() sfItem {
	p.i++ // the opening quote
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		p.i++
		switch {
		case c == '\\':
			if p.i >= len(p.s) || p.s[p.i] != '"' && p.s[p.i] != '\\' {
				p.bad = true
				return sfItem{}
			}
			b.WriteByte(p.s[p.i])
			p.i++
		case c == '"':
			return sfItem{Kind: sfString, Str: b.String()}
		case c < 0x20 || c > 0x7e:
			p.bad = true
			return sfItem{}
		default:
			b.WriteByte(c)
		}
	}
	p.bad = true // no closing quote
	return sfItem{}
}

func (p *sfParser) token() sfItem {
	start := p.i
	p.i++
	for p.i < len(p.s) && isTChar(p.s[p.i]) {
		p.i++
	}
	return sfItem{Kind: sfToken, Str: p.s[start:p.i]}
}

func (p *sfParser) byteSeq() sfItem {
	p.i++
	end := strings.IndexByte(p.s[p.i:], ':')
	if end < 0 {
		p.bad = true
		return sfItem{}
	}
	text := p.s[p.i : p.i+end]
	p.i += end + 1
	for i := 0; i < len(text); i++ {
		c := text[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			p.bad = true
			return sfItem{}
		}
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		// RFC 8941 lets parsers accept unpadded input.
		if b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(text, "=")); err != nil {
			p.bad = true
			return sfItem{}
		}
	}
	return sfItem{Kind: sfBytes, Bytes: b}
}

func (p *sfParser) boolean() sfItem {
	p.i++
	switch p.peek() {
	case '0', '1':
		v := p.s[p.i] == '1'
		p.i++
		return sfItem{Kind: sfBoolean, Bool: v}
	}
	p.bad = true
	return sfItem{}
}

func (p *sfParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *sfParser) skipSP() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

func (p *sfParser) skipOWS() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

// isTChar is RFC 9110's tchar, plus ':' and '/' which tokens may hold.
func isTChar(c byte) bool {
	if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

// appendItem serializes a bare item per RFC 8941 §4.1.
func appendItem(b []byte, it sfItem) []byte {
	switch it.Kind {
	case sfInteger:
		return strconv.AppendInt(b, it.Num, 10)
	case sfDecimal:
		return append(b, canonicalDecimal(it.Str)...)
	case sfString:
		b = append(b, '"')
		for i := 0; i < len(it.Str); i++ {
			if c := it.Str[i]; c == '"' || c == '\\' {
				b = append(b, '\\')
			}
			b = append(b, it.Str[i])
		}
		return append(b, '"')
	case sfToken:
		return append(b, it.Str...)
	case sfBytes:
		b = append(b, ':')
		b = base64.StdEncoding.AppendEncode(b, it.Bytes)
		return append(b, ':')
	case sfBoolean:
		if it.Bool {
			return append(b, "?1"...)
		}
		return append(b, "?0"...)
	}
	return b
}

// canonicalDecimal drops trailing zeros of the fraction, keeping one digit.
func canonicalDecimal(s string) string {
	for strings.HasSuffix(s, "0") && !strings.HasSuffix(s, ".0") {
		s = s[:len(s)-1]
	}
	return s
}

// appendParams serializes parameters; a true boolean is the bare name.
func appendParams(b []byte, ps []sfParam) []byte {
	for _, p := range ps {
		b = append(b, ';')
		b = append(b, p.Name...)
		if p.Value.Kind == sfBoolean && p.Value.Bool {
			continue
		}
		b = append(b, '=')
		b = appendItem(b, p.Value)
	}
	return b
}

// appendInnerList serializes an inner list with its parameters.
func appendInnerList(b []byte, m *sfMember) []byte {
	b = append(b, '(')
	for i, it := range m.List {
		if i > 0 {
			b = append(b, ' ')
		}
		b = appendItem(b, it)
		b = appendParams(b, m.ListParams[i])
	}
	b = append(b, ')')
	return appendParams(b, m.Params)
}
