package key

import "testing"

func TestRoutes(t *testing.T) {
	rs, err := ParseRoutes("GET /demo/{proxy+}=payments:read; HEAD /demo/{proxy+}=payments:read\nANY /demo/{proxy+}=payments:write;POST /v2/refunds/{id}=refunds:write")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		method, path, scope string
		ok                  bool
	}{
		{"GET", "/demo/charges", "payments:read", true},
		{"HEAD", "/demo/a/b/c", "payments:read", true},
		{"POST", "/demo/charges", "payments:write", true},
		{"DELETE", "/demo/x", "payments:write", true},
		{"GET", "/demo", "", false},
		{"GET", "/demo/", "", false},
		{"GET", "/other/x", "", false},
		{"POST", "/v2/refunds/r_1", "refunds:write", true},
		{"POST", "/v2/refunds/r_1/x", "", false},
		{"POST", "/v2/refunds/", "", false},
		{"POST", "/v2/refunds/r_1/", "", false},
		{"POST", "v2/refunds/r_1", "", false},
		{"GET", "/demo//x", "payments:read", true},
	}
	for _, c := range cases {
		scope, ok := rs.Scope(c.method, c.path)
		if scope != c.scope || ok != c.ok {
			t.Errorf("Scope(%s %s) = %q %v, want %q %v", c.method, c.path, scope, ok, c.scope, c.ok)
		}
	}
	for _, bad := range []string{"GET demo=payments:read", "GET /x", "GET /x=*", "GET /x=payments:*", "GET /{a+}/b=x:y", "/x=a:b"} {
		if _, err := ParseRoutes(bad); err == nil {
			t.Errorf("ParseRoutes(%q) accepted", bad)
		}
	}
}
