package signature

import (
	"errors"
	"math/rand/v2"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestCanonicalQueryRaw(t *testing.T) {
	tests := []struct {
		name, raw, want string
		wantErr         bool
	}{
		{name: "empty", raw: "", want: ""},
		{name: "sorted by name", raw: "b=2&a=1", want: "a=1&b=2"},
		{name: "sorted by value", raw: "a=2&a=1", want: "a=1&a=2"},
		{name: "duplicates kept", raw: "a=1&a=1", want: "a=1&a=1"},
		{name: "no value", raw: "a", want: "a="},
		{name: "empty value", raw: "a=", want: "a="},
		{name: "no value and empty value", raw: "a&a=", want: "a=&a="},
		{name: "space as %20", raw: "q=hello%20world", want: "q=hello%20world"},
		{name: "plus is a plus", raw: "q=a+b", want: "q=a%2Bb"},
		{name: "encoded plus", raw: "q=a%2bb", want: "q=a%2Bb"},
		{name: "unreserved decoded", raw: "q=%7e", want: "q=~"},
		{name: "unreserved letters decoded", raw: "%41%2D%2E%5F=%7A", want: "A-._=z"},
		{name: "utf-8 kept", raw: "q=caf%C3%A9", want: "q=caf%C3%A9"},
		{name: "hex case normalised", raw: "q=%c3%a9", want: "q=%C3%A9"},
		{name: "raw utf-8 encoded", raw: "q=caf\xc3\xa9", want: "q=caf%C3%A9"},
		{name: "raw space", raw: "sp ace=1", want: "sp%20ace=1"},
		{name: "empty segments skipped", raw: "a=1&&b=2", want: "a=1&b=2"},
		{name: "leading and trailing &", raw: "&a=1&", want: "a=1"},
		{name: "only separators", raw: "&&", want: ""},
		{name: "byte order of encoded names", raw: "a=1&B=2", want: "B=2&a=1"},
		{name: "equals inside value", raw: "a=b=c", want: "a=b%3Dc"},
		{name: "empty name", raw: "=1", want: "=1"},
		{name: "reserved characters", raw: "q=a/b?c:d@e;f,g", want: "q=a%2Fb%3Fc%3Ad%40e%3Bf%2Cg"},
		{name: "encoded separators stay in value", raw: "q=a%26b%3Dc", want: "q=a%26b%3Dc"},
		{name: "percent sign", raw: "q=100%25", want: "q=100%25"},
		// Sorting is by name, then value; not by the whole "name=value" string,
		// in which '-' (0x2D) sorts before '=' (0x3D).
		{name: "name before value", raw: "a-=1&a=2", want: "a=2&a-=1"},
		{name: "encoded form sorts", raw: "b=1&%21=2", want: "%21=2&b=1"},
		{name: "invalid hex", raw: "x=%zz", wantErr: true},
		{name: "truncated escape", raw: "x=%4", wantErr: true},
		{name: "lone percent", raw: "x=%", wantErr: true},
		{name: "invalid escape in name", raw: "%g1=1", wantErr: true},
		{name: "invalid escape after valid", raw: "a=1&b=%2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CanonicalQueryRaw(tt.raw)
			if tt.wantErr {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("CanonicalQueryRaw(%q) = %q, %v; want ErrMalformed", tt.raw, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("CanonicalQueryRaw(%q) = %q, %v; want %q", tt.raw, got, err, tt.want)
			}
			// The output is canonical itself.
			again, err := CanonicalQueryRaw(got)
			if err != nil || again != got {
				t.Fatalf("CanonicalQueryRaw(%q) = %q, %v; not a fixed point", got, again, err)
			}
		})
	}
}

func TestCanonicalQueryValues(t *testing.T) {
	tests := []struct {
		name   string
		params map[string][]string
		want   string
	}{
		{name: "nil", params: nil, want: ""},
		{name: "sorted", params: map[string][]string{"b": {"2"}, "a": {"2", "1"}}, want: "a=1&a=2&b=2"},
		{name: "encoded", params: map[string][]string{"q": {"a b+c~"}, "é": {""}}, want: "%C3%A9=&q=a%20b%2Bc~"},
		{name: "no values", params: map[string][]string{"flag": nil}, want: "flag="},
		{name: "equals", params: map[string][]string{"a": {"b=c"}}, want: "a=b%3Dc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CanonicalQueryValues(tt.params); got != tt.want {
				t.Fatalf("CanonicalQueryValues(%v) = %q, want %q", tt.params, got, tt.want)
			}
		})
	}
}

// TestCanonicalQueryAgree builds random decoded parameters, writes them as a
// raw query in one of many valid encodings and order, and checks that both
// functions give the same canonical query.
func TestCanonicalQueryAgree(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("aAzZ09-._~ +=&%/?#é\x00\xff")
	randString := func() string {
		b := make([]byte, rng.IntN(6))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	// encodeLoosely percent-encodes s in any way a client might: unreserved
	// characters raw or escaped, escapes in either case.
	encodeLoosely := func(s string) string {
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			c := s[i]
			if isUnreserved(c) && rng.IntN(2) == 0 {
				b.WriteByte(c)
				continue
			}
			hex := "0123456789ABCDEF"
			if rng.IntN(2) == 0 {
				hex = "0123456789abcdef"
			}
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
		return b.String()
	}
	for i := 0; i < 2000; i++ {
		params := map[string][]string{}
		var segs []string
		for n := rng.IntN(5); n > 0; n-- {
			name := randString()
			values := make([]string, rng.IntN(3))
			for j := range values {
				values[j] = randString()
			}
			if _, dup := params[name]; dup {
				continue
			}
			params[name] = values
			if len(values) == 0 {
				seg := encodeLoosely(name)
				// "a" and "a=" are the same parameter; an empty name needs the "=".
				if name == "" || rng.IntN(2) == 0 {
					seg += "="
				}
				segs = append(segs, seg)
			}
			for _, v := range values {
				segs = append(segs, encodeLoosely(name)+"="+encodeLoosely(v))
			}
		}
		rng.Shuffle(len(segs), func(i, j int) { segs[i], segs[j] = segs[j], segs[i] })
		if rng.IntN(4) == 0 {
			segs = append(segs, "") // an empty segment is skipped
		}
		raw := strings.Join(segs, "&")
		fromRaw, err := CanonicalQueryRaw(raw)
		if err != nil {
			t.Fatalf("CanonicalQueryRaw(%q): %v", raw, err)
		}
		fromValues := CanonicalQueryValues(params)
		if fromRaw != fromValues {
			t.Fatalf("raw %q: CanonicalQueryRaw = %q, CanonicalQueryValues(%q) = %q", raw, fromRaw, params, fromValues)
		}
		if ref := referenceCanonicalQuery(t, raw); ref != fromRaw {
			t.Fatalf("raw %q: CanonicalQueryRaw = %q, reference = %q", raw, fromRaw, ref)
		}
	}
}

// referenceCanonicalQuery is a slow, obviously correct canonical query made
// from the standard library, as a test oracle. url.PathUnescape decodes '%XX'
// and leaves '+' alone, as the README's signing scheme wants.
func referenceCanonicalQuery(t testing.TB, raw string) string {
	t.Helper()
	var pairs [][2]string
	for _, seg := range strings.Split(raw, "&") {
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		n, err := url.PathUnescape(name)
		if err != nil {
			t.Fatalf("reference: %q: %v", raw, err)
		}
		v, err := url.PathUnescape(value)
		if err != nil {
			t.Fatalf("reference: %q: %v", raw, err)
		}
		pairs = append(pairs, [2]string{rfc3986(n), rfc3986(v)})
	}
	slices.SortFunc(pairs, func(a, b [2]string) int {
		if c := strings.Compare(a[0], b[0]); c != 0 {
			return c
		}
		return strings.Compare(a[1], b[1])
	})
	out := make([]string, len(pairs))
	for i, p := range pairs {
		out[i] = p[0] + "=" + p[1]
	}
	return strings.Join(out, "&")
}

func rfc3986(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", c) >= 0 {
			b.WriteByte(c)
		} else {
			b.WriteString("%" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15])))
		}
	}
	return b.String()
}

func TestCanonicalQueryRawNoAllocWhenCanonical(t *testing.T) {
	for _, raw := range []string{"", "currency=EUR&limit=10", "a=&b=%C3%A9&b=x"} {
		allocs := testing.AllocsPerRun(100, func() {
			if _, err := CanonicalQueryRaw(raw); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("CanonicalQueryRaw(%q): %v allocations, want 0", raw, allocs)
		}
	}
}
