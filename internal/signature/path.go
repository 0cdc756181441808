package signature

import "net/url"

// PathForms returns the forms, other than itself, in which a client may
// have sent a decoded path: an HTTP API passes the authorizer the path
// percent-decoded, while a client signs the path as it sent it. They are
// the escaping Go's net/url (and most HTTP clients) applies, and the strict
// RFC 3986 one (every byte but the unreserved characters and '/' as %XX in
// upper-case hex). A path with nothing to escape has no other form (nil).
func PathForms(decoded string) []string {
	plain := true
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; c != '/' && !isUnreserved(c) {
			plain = false
			break
		}
	}
	if plain {
		return nil
	}
	var out []string
	add := func(form string) {
		if form == decoded {
			return
		}
		for _, f := range out {
			if f == form {
				return
			}
		}
		out = append(out, form)
	}
	add((&url.URL{Path: decoded}).EscapedPath())
	strict := make([]byte, 0, 3*len(decoded))
	for i := 0; i < len(decoded); i++ {
		if c := decoded[i]; c == '/' {
			strict = append(strict, c)
		} else {
			strict = appendEncodedByte(strict, c)
		}
	}
	add(string(strict))
	return out
}
