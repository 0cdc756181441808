package authorizer

import (
	"testing"

	"github.com/paykeys/paykeys/internal/key"
)

// rfc9421Input is a Signature-Input value; its commas are not repeats.
const rfc9421Input = `s=("@method" "@authority" "@path" "@query");created=1, t=("@method")`

const (
	secretA = "paykeys_sk_test_AAAA"
	secretB = "paykeys_sk_test_BBBB"
)

// One credential per request, in both event formats: REST events keep a
// header's name as sent and list repeats in multiValueHeaders; HTTP API
// events lower-case names and join repeats with ",".
func TestReadCredentials(t *testing.T) {
	hmac := map[string]string{
		"x-client-id": "ck_test_1", "x-timestamp": "1795420800", "x-nonce": "nonce-0123456789abcdef",
		"x-content-sha256": "e3b0", "x-signature": "v1=aa",
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		out := map[string]string{}
		for k, v := range base {
			out[k] = v
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out[kv[i]] = kv[i+1]
		}
		return out
	}
	tests := []struct {
		name       string
		single     map[string]string
		multi      map[string][]string
		wantBearer string
		conflict   bool
	}{
		// one credential
		{"X-API-Key", map[string]string{"X-API-Key": secretA}, nil, secretA, false},
		{"x-api-key lower case", map[string]string{"x-api-key": secretA}, nil, secretA, false},
		{"Authorization: Bearer", map[string]string{"Authorization": "Bearer " + secretA}, nil, secretA, false},
		{"authorization: bearer, any case", map[string]string{"authorization": "bEaReR " + secretA}, nil, secretA, false},
		{"signature headers", hmac, nil, "", false},
		{"X-Signature with two signatures", with(hmac, "x-signature", "v1=aa, v1=bb"), nil, "", false},
		{"another Authorization scheme is not ours", map[string]string{"Authorization": "Basic dXNlcjpwdw==", "X-API-Key": secretA}, nil, secretA, false},
		{"REST: same value in headers and multiValueHeaders",
			map[string]string{"X-API-Key": secretA}, map[string][]string{"X-API-Key": {secretA}}, secretA, false},
		{"REST: repeated with the same value", nil, map[string][]string{"X-API-Key": {secretA, secretA}}, secretA, false},
		{"HTTP: repeated with the same value", map[string]string{"x-api-key": secretA + "," + secretA}, nil, secretA, false},
		{"nothing", map[string]string{"Host": "example.com"}, nil, "", false},
		{"RFC 9421 headers, commas inside", map[string]string{"signature-input": rfc9421Input, "signature": "s=:AAAA:"}, nil, "", false},
		{"REST: RFC 9421 headers in both maps",
			map[string]string{"Signature-Input": rfc9421Input}, map[string][]string{"Signature-Input": {rfc9421Input}}, "", false},

		// two credentials
		{"X-API-Key and Authorization: Bearer", map[string]string{"X-API-Key": secretB, "Authorization": "Bearer " + secretA}, nil, secretB, true},
		{"X-API-Key and Authorization: Bearer, same secret", map[string]string{"x-api-key": secretA, "authorization": "Bearer " + secretA}, nil, secretA, true},
		{"X-API-Key empty beside Authorization: Bearer", map[string]string{"X-API-Key": "", "Authorization": "Bearer " + secretA}, nil, "", true},
		{"X-API-Key and X-Client-Id", map[string]string{"X-API-Key": secretA, "X-Client-Id": "ck_test_1"}, nil, secretA, true},
		{"Authorization: Bearer and X-Signature", map[string]string{"authorization": "Bearer " + secretA, "x-signature": "v1=aa"}, nil, secretA, true},
		{"X-API-Key and every signature header", with(hmac, "x-api-key", secretA), nil, secretA, true},
		{"X-API-Key and Signature-Input", map[string]string{"x-api-key": secretA, "signature-input": rfc9421Input}, nil, secretA, true},
		{"HMAC headers and Signature", with(hmac, "signature", "s=:AAAA:"), nil, "", true},
		{"REST: Signature twice, different values", nil, map[string][]string{"Signature": {"s=:AAAA:", "s=:BBBB:"}}, "", true},
		{"X-API-Key and an empty X-Nonce", map[string]string{"X-API-Key": secretA, "X-Nonce": ""}, nil, secretA, true},
		{"REST: X-API-Key only in multiValueHeaders beside Authorization",
			map[string]string{"Authorization": "Bearer " + secretA}, map[string][]string{"X-API-Key": {secretB}}, secretB, true},

		// one header repeated with different values
		{"REST: two cases of X-API-Key", map[string]string{"x-api-key": secretA, "X-Api-Key": secretB}, nil, "", true},
		{"REST: two cases, same value", map[string]string{"x-api-key": secretA, "X-Api-Key": secretA}, nil, secretA, false},
		{"REST: X-API-Key repeated", map[string]string{"X-API-Key": secretB}, map[string][]string{"X-API-Key": {secretA, secretB}}, "", true},
		{"REST: X-API-Key repeated, multiValueHeaders only", nil, map[string][]string{"x-api-key": {secretA, secretB}}, "", true},
		{"REST: headers and multiValueHeaders disagree", map[string]string{"X-API-Key": secretA}, map[string][]string{"X-API-Key": {secretB}}, "", true},
		{"REST: X-Signature repeated", with(nil, "X-Client-Id", "ck_test_1"), map[string][]string{"X-Signature": {"v1=aa", "v1=bb"}}, "", true},
		{"REST: X-Client-Id repeated", with(hmac), map[string][]string{"x-client-id": {"ck_test_1", "ck_test_2"}}, "", true},
		{"HTTP: X-API-Key joined", map[string]string{"x-api-key": secretA + "," + secretB}, nil, "", true},
		{"HTTP: X-API-Key joined with a space", map[string]string{"x-api-key": secretA + ", " + secretB}, nil, "", true},
		{"HTTP: X-API-Key and an empty repeat", map[string]string{"x-api-key": secretA + ","}, nil, "", true},
		{"HTTP: Authorization joined", map[string]string{"authorization": "Bearer " + secretA + ",Bearer " + secretB}, nil, "", true},
		{"HTTP: Bearer beside another scheme", map[string]string{"authorization": "Basic dXNlcjpwdw==, Bearer " + secretA}, nil, "", true},
		{"HTTP: X-Client-Id joined", with(hmac, "x-client-id", "ck_test_1,ck_test_2"), nil, "", true},
		{"HTTP: X-Timestamp joined", with(hmac, "x-timestamp", "1795420800,1795420801"), nil, "", true},
		{"HTTP: X-Nonce joined", with(hmac, "x-nonce", "nonce-0123456789abcdef,nonce-0123456789abcdeg"), nil, "", true},
		{"HTTP: X-Content-SHA256 joined", with(hmac, "x-content-sha256", "e3b0,e3b1"), nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := readCredentials(eventHeaders{single: tt.single, multi: tt.multi})
			if got := c.conflict != ""; got != tt.conflict {
				t.Fatalf("conflict = %q, want a conflict: %v", c.conflict, tt.conflict)
			}
			if !tt.conflict && c.bearer != tt.wantBearer {
				t.Errorf("bearer = %q, want %q", c.bearer, tt.wantBearer)
			}
		})
	}
}

func TestReadCredentialsSignatureHeaders(t *testing.T) {
	c := readCredentials(eventHeaders{single: map[string]string{
		"X-Client-Id": "ck_test_1", "x-timestamp": "1795420800", "X-NONCE": "nonce-0123456789abcdef",
		"x-content-sha256": "e3b0", "X-Signature": "v1=aa,v1=bb",
	}})
	if c.conflict != "" || c.bearer != "" || c.hmac.ClientID != "ck_test_1" || c.hmac.Timestamp != "1795420800" ||
		c.hmac.Nonce != "nonce-0123456789abcdef" || c.hmac.ContentSHA256 != "e3b0" || c.hmac.Signature != "v1=aa,v1=bb" {
		t.Fatalf("%+v", c)
	}
}

// The stage is cut from an HTTP API's raw path only at a segment boundary.
func TestWithoutStage(t *testing.T) {
	tests := []struct{ path, stage, want string }{
		{"/demo/charges", "$default", "/demo/charges"},
		{"/demo/charges", "", "/demo/charges"},
		{"/prod/demo/charges", "prod", "/demo/charges"},
		{"/prod", "prod", "/"},
		{"/prod/", "prod", "/"},
		{"/production/x", "prod", "/production/x"},
		{"/prodx", "prod", "/prodx"},
		{"/demo/prod/x", "prod", "/demo/prod/x"},
		{"/Prod/x", "prod", "/Prod/x"},
		{"/prod/prod/x", "prod", "/prod/x"},
		{"prod/x", "prod", "prod/x"},
	}
	for _, tt := range tests {
		if got := withoutStage(tt.path, tt.stage); got != tt.want {
			t.Errorf("withoutStage(%q, %q) = %q, want %q", tt.path, tt.stage, got, tt.want)
		}
	}
}

// The API's environment: the stage variable, else the function's; never a
// default, and nothing but test or live.
func TestEnvironment(t *testing.T) {
	tests := []struct {
		name     string
		function key.Environment
		stage    map[string]string
		want     key.Environment
	}{
		{"stage variable", "", map[string]string{"environment": "live"}, key.EnvLive},
		{"stage variable wins", key.EnvTest, map[string]string{"environment": "live"}, key.EnvLive},
		{"function's", key.EnvLive, nil, key.EnvLive},
		{"empty stage variable falls back", key.EnvTest, map[string]string{"environment": ""}, key.EnvTest},
		{"neither", "", nil, ""},
		{"neither, other stage variables", "", map[string]string{"authorizer_response": "iam"}, ""},
		{"stage variable not test or live", key.EnvTest, map[string]string{"environment": "prod"}, ""},
		{"stage variable in capitals", key.EnvTest, map[string]string{"environment": "TEST"}, ""},
		{"function's not test or live", "staging", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &Handler{Environment: tt.function}
			got, problem := h.environment(tt.stage)
			if got != tt.want || (problem == "") != (tt.want != "") {
				t.Fatalf("got %q (%q), want %q", got, problem, tt.want)
			}
		})
	}
}

// The request as RFC 9421 sees it: @authority from Host without the scheme's
// default port, repeated fields joined, and whether it has a body.
func TestMessage(t *testing.T) {
	for _, c := range []struct {
		name      string
		headers   map[string]string
		authority string
		body      bool
	}{
		{"https default port", map[string]string{"Host": "API.example.com:443", "X-Forwarded-Proto": "https"}, "api.example.com", false},
		{"http, own port", map[string]string{"host": "127.0.0.1:3000", "x-forwarded-proto": "http"}, "127.0.0.1:3000", false},
		{"no proto: https", map[string]string{"host": "api.example.com:443", "content-length": "0"}, "api.example.com", false},
		{"content-length", map[string]string{"host": "h", "content-length": "18"}, "h", true},
		{"transfer-encoding", map[string]string{"host": "h", "transfer-encoding": "chunked"}, "h", true},
		{"content-digest alone", map[string]string{"host": "h", "content-digest": "sha-256=:AA==:"}, "h", true},
		{"unreadable content-length", map[string]string{"host": "h", "content-length": "x"}, "h", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, body := message(call{headers: eventHeaders{single: c.headers}, path: "/p", rawQuery: func() string { return "a=1" }}, "GET")
			if m.Authority != c.authority || body != c.body || m.Path != "/p" || m.Query != "a=1" {
				t.Fatalf("authority %q body %v path %q query %q", m.Authority, body, m.Path, m.Query)
			}
		})
	}
	m, _ := message(call{headers: eventHeaders{multi: map[string][]string{"X-Thing": {"a", "b"}}, single: map[string]string{"X-Thing": "b"}},
		rawQuery: func() string { return "" }}, "GET")
	if v, ok := m.Header("x-thing"); !ok || v != "a, b" {
		t.Fatalf("x-thing = %q", v)
	}
}
