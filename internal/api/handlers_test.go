package api_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
)

// Every route refuses a request without a valid token (401) before it
// looks anything up, and one from a role too weak for it (403); a refused
// change is audited.
func TestEveryRouteChecksTokenAndRole(t *testing.T) {
	f := newFake(t)
	weaker := map[apigw.Permission]string{apigw.Write: "developer", apigw.Verify: "viewer"}
	for _, r := range api.Routes() {
		if r.Service {
			continue
		}
		t.Run(r.Key, func(t *testing.T) {
			id := key.NewClientID(key.EnvTest)
			if strings.HasPrefix(r.Key, "POST /v1/webhooks") || strings.Contains(r.Key, "/v1/webhooks/") {
				id = key.NewID("we_")
			}
			calls := f.st.Count("GetKey") + f.st.Count("GetEndpoint")
			for _, claims := range []rq{
				{merchant: "-"},
				{subject: "user\x00"},
				{merchant: "not a merchant"},
			} {
				claims.route, claims.id = r.Key, id
				code, _ := f.send(claims).must(t, 401).error(t)
				if code != "unauthenticated" {
					t.Errorf("code %q, want unauthenticated", code)
				}
			}
			if role, ok := weaker[r.Need]; ok {
				before := len(f.st.Audit)
				a := f.send(rq{route: r.Key, id: id, role: role}).must(t, 403)
				if code, _ := a.error(t); code != "forbidden" {
					t.Errorf("code %q, want forbidden", code)
				}
				if r.Key != "GET /v1/audit" && r.Need == apigw.Write && len(f.st.Audit) != before+1 {
					t.Errorf("a refused change was not audited")
				}
			}
			if n := f.st.Count("GetKey") + f.st.Count("GetEndpoint"); n != calls {
				t.Errorf("a refused request read the store")
			}
		})
	}
}

// Each kind of error has one status, one code and a message fit to show;
// an unknown error is a 500 whose text is logged, never shown.
func TestErrorsMapToOneStatusTable(t *testing.T) {
	detail := "dynamodb said: table paykeys-prod throttled"
	cases := []struct {
		name   string
		setup  func(f *fake) rq
		status int
		code   string
		msg    string // in the message
		header string // a header the answer carries
	}{
		{name: "undeclared route", status: 404, code: "not_found", msg: "no such route",
			setup: func(*fake) rq { return rq{route: "$default"} }},
		{name: "unknown key", status: 404, code: "not_found",
			setup: func(*fake) rq { return rq{route: "GET /v1/keys/{id}", id: key.NewClientID(key.EnvTest)} }},
		{name: "not a key ID", status: 404, code: "not_found",
			setup: func(*fake) rq { return rq{route: "GET /v1/keys/{id}", id: "../../etc/passwd"} }},
		{name: "unknown webhook endpoint", status: 404, code: "not_found",
			setup: func(*fake) rq { return rq{route: "GET /v1/webhooks/{id}", id: key.NewID("we_")} }},
		{name: "unknown delivery", status: 404, code: "not_found", setup: func(f *fake) rq {
			return rq{route: "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", id: f.createHook("").id, sub: key.NewID("msg_")}
		}},
		{name: "unknown public key", status: 404, code: "not_found", setup: func(f *fake) rq {
			id := f.createKey("", "").id
			return rq{route: "DELETE /v1/keys/{id}/public-keys/{pk_id}", id: id, sub: "pk_" + id[3:] + "_0123456789abcdef"}
		}},
		{name: "bad JSON", status: 400, code: "invalid_request", msg: "not valid JSON",
			setup: func(*fake) rq { return rq{route: "POST /v1/keys", body: `{"name":`} }},
		{name: "body too large", status: 413, code: "payload_too_large",
			setup: func(*fake) rq { return rq{route: "POST /v1/keys", body: strings.Repeat(" ", apigw.MaxBody+1)} }},
		{name: "a revoked key is final", status: 409, code: "conflict", setup: func(f *fake) rq {
			id := f.createKey("", "").id
			f.send(rq{route: "DELETE /v1/keys/{id}", id: id}).must(f.t, 204)
			return rq{route: "PATCH /v1/keys/{id}", id: id, body: `{"name":"again"}`}
		}},
		{name: "merchant at its key limit", status: 409, code: "conflict", msg: "at most 2 keys", setup: func(f *fake) rq {
			f.api.Keys.MaxKeys = 2
			f.createKey("", "")
			revoked := f.createKey("", "").id
			f.send(rq{route: "DELETE /v1/keys/{id}", id: revoked}).must(f.t, 204)
			f.createKey("", "") // a revoked key does not count
			f.createKey("m_beta", "")
			return rq{route: "POST /v1/keys", body: `{"name":"a","environment":"test"}`}
		}},
		{name: "merchant at its endpoint limit", status: 409, code: "conflict", msg: "at most 1 webhook endpoints", setup: func(f *fake) rq {
			f.api.Webhooks.MaxPerMerchant = 1
			f.createHook("")
			f.createHook("m_beta")
			return rq{route: "POST /v1/webhooks", body: `{"url":"http://127.0.0.1:9/hook"}`}
		}},
		{name: "a disabled endpoint takes no test", status: 409, code: "conflict", setup: func(f *fake) rq {
			id := f.createHook("").id
			f.send(rq{route: "PATCH /v1/webhooks/{id}", id: id, body: `{"status":"disabled"}`}).must(f.t, 200)
			return rq{route: "POST /v1/webhooks/{id}/test", id: id}
		}},
		{name: "verify tries are limited", status: 429, code: "rate_limited", header: "Retry-After", setup: func(f *fake) rq {
			id := f.createKey("", "").id
			for range f.api.Keys.VerifyLimit {
				f.send(rq{route: "POST /v1/keys/{id}/verify", id: id, body: `{"secret":"x"}`}).must(f.t, 200)
			}
			return rq{route: "POST /v1/keys/{id}/verify", id: id, body: `{"secret":"x"}`}
		}},
		{name: "unsigned leak report", status: 401, code: "unauthenticated", msg: "signed by a configured key",
			setup: func(*fake) rq { return rq{route: "POST /v1/leaks", merchant: "-", body: `[]`} }},
		{name: "store fails", status: 500, code: "internal", msg: "internal error", setup: func(f *fake) rq {
			id := f.createKey("", "").id
			f.st.Fail["GetKey"] = errors.New(detail)
			return rq{route: "GET /v1/keys/{id}", id: id}
		}},
		{name: "store unavailable", status: 503, code: "unavailable", setup: func(f *fake) rq {
			f.st.Fail["ListKeys"] = fmt.Errorf("%s: %w", detail, key.ErrUnavailable)
			return rq{route: "GET /v1/keys"}
		}},
		{name: "store timed out", status: 503, code: "unavailable", msg: "did not answer in time", setup: func(f *fake) rq {
			f.st.Fail["ListEndpoints"] = fmt.Errorf("%s: %w", detail, context.DeadlineExceeded)
			return rq{route: "GET /v1/webhooks"}
		}},
		{name: "secret store fails", status: 500, code: "internal", setup: func(f *fake) rq {
			f.sec.Fail["Create"] = errors.New(detail)
			return rq{route: "POST /v1/keys", body: `{"name":"a","environment":"test"}`}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			a := f.send(c.setup(f)).must(t, c.status)
			code, msg := a.error(t)
			if code != c.code || !strings.Contains(msg, c.msg) {
				t.Errorf("error %q %q, want %q with %q", code, msg, c.code, c.msg)
			}
			if strings.Contains(a.body, detail) {
				t.Errorf("an internal error's text was shown: %s", a.body)
			}
			if c.header != "" {
				if n, err := strconv.Atoi(a.headers[c.header]); err != nil || n < 1 {
					t.Errorf("%s = %q", c.header, a.headers[c.header])
				}
			}
			if a.status == 500 && !strings.Contains(f.logs.String(), detail) {
				t.Errorf("a 500's cause was not logged")
			}
		})
	}
}

// Bad input is a 400 with a message that says what is wrong, and writes
// nothing: no key, no endpoint, no secret.
func TestValidationIsA400(t *testing.T) {
	long := strings.Repeat("k", 256)
	cases := []struct {
		route   string
		body    string
		query   map[string]string
		headers map[string]string
		msg     string
	}{
		{route: "POST /v1/keys", body: ``, msg: "a JSON body is required"},
		{route: "POST /v1/keys", body: `null`, msg: "body must be a JSON object"},
		{route: "POST /v1/keys", body: `[]`, msg: "body must be a JSON object"},
		{route: "POST /v1/keys", body: `{}`, msg: "name is required"},
		{route: "POST /v1/keys", body: `{"name":"a"}`, msg: "environment is required"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"prod"}`, msg: "environment"},
		{route: "POST /v1/keys", body: `{"name":"","environment":"test"}`, msg: "name"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test","extra":1}`, msg: `unknown field "extra"`},
		{route: "POST /v1/keys", body: `{"name":"a","Environment":"test"}`, msg: "case-sensitive"},
		{route: "POST /v1/keys", body: `{"name":"a","name":"b","environment":"test"}`, msg: "name"},
		{route: "POST /v1/keys", body: `{"name":1,"environment":"test"}`, msg: `field "name" must be a string`},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test","scopes":["refunds:create"]}`, msg: "refunds:create"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test","expires_at":"tomorrow"}`, msg: "RFC 3339"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test","expires_at":"2020-01-01T00:00:00Z"}`, msg: "future"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test","allowed_ips":["nope"]}`, msg: "allowed_ips"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test","auth_modes":[]}`, msg: "auth_modes"},
		{route: "POST /v1/keys", body: `{"name":"a","environment":"test"}`, headers: map[string]string{"idempotency-key": long},
			msg: "Idempotency-Key must be 1..255 characters"},
		{route: "GET /v1/keys", query: map[string]string{"limit": "0"}, msg: "limit must be an integer from 1 to 100"},
		{route: "GET /v1/keys", query: map[string]string{"limit": "101"}, msg: "limit must be an integer from 1 to 100"},
		{route: "GET /v1/keys", query: map[string]string{"limit": "ten"}, msg: "limit must be an integer from 1 to 100"},
		{route: "GET /v1/keys", query: map[string]string{"status": "deleted"}, msg: "status"},
		{route: "GET /v1/keys", query: map[string]string{"environment": "prod"}, msg: "environment"},
		{route: "GET /v1/keys", query: map[string]string{"cursor": "not-a-cursor"}, msg: "cursor is not valid"},
		{route: "PATCH /v1/keys/{id}", body: `{"name":null}`, msg: `field "name" must not be null`},
		{route: "PATCH /v1/keys/{id}", body: `{"status":"revoked"}`, msg: "status"},
		{route: "PATCH /v1/keys/{id}", body: `{"scopes":["nope:nope"]}`, msg: "nope:nope"},
		{route: "PATCH /v1/keys/{id}", body: `{"rotation_days":"often"}`, msg: `field "rotation_days"`},
		{route: "POST /v1/keys/{id}/reset", body: `{"grace_period_seconds":-1}`, msg: "grace_period_seconds"},
		{route: "POST /v1/keys/{id}/reset", body: `{"grace_period_seconds":604801}`, msg: "grace_period_seconds"},
		{route: "POST /v1/keys/{id}/verify", body: `{}`, msg: "secret is required"},
		{route: "GET /v1/keys/{id}/usage", query: map[string]string{"from": "2026-13-01"}, msg: "from must be a UTC date"},
		{route: "GET /v1/keys/{id}/usage", query: map[string]string{"from": "2026-11-23", "to": "2026-11-01"}, msg: "is after to"},
		{route: "GET /v1/keys/{id}/usage", query: map[string]string{"from": "2024-01-01", "to": "2026-01-01"}, msg: "at most 366 days"},
		{route: "POST /v1/keys/{id}/public-keys", body: `{}`, msg: "alg is required"},
		{route: "POST /v1/keys/{id}/public-keys", body: `{"alg":"rsa"}`, msg: "alg must be"},
		{route: "POST /v1/keys/{id}/public-keys", body: `{"alg":"ed25519"}`, msg: "exactly one of public_key and jwk"},
		{route: "POST /v1/keys/{id}/public-keys", body: `{"alg":"ed25519","public_key":"pem"}`, msg: "public_key"},
		{route: "POST /v1/verify", body: `{}`, msg: "secret is required"},
		{route: "POST /v1/verify", body: `{"secret":"x","ip":"localhost"}`, msg: "ip must be an IPv4 or IPv6 address"},
		{route: "POST /v1/verify", body: `{"secret":"x","scope":"*"}`, msg: "scope must look like resource:action"},
		{route: "POST /v1/verify", body: `{"secret":"x","environment":"prod"}`, msg: "environment"},
		{route: "GET /v1/audit", query: map[string]string{"limit": "-1"}, msg: "limit must be"},
		{route: "GET /v1/audit", query: map[string]string{"cursor": "x"}, msg: "cursor is not valid"},
		{route: "POST /v1/webhooks", body: `{}`, msg: "url is required"},
		{route: "POST /v1/webhooks", body: `{"url":"http://127.0.0.1:9/","status":"enabled"}`, msg: "status cannot be set at create"},
		{route: "POST /v1/webhooks", body: `{"url":"http://127.0.0.1:9/","event_types":["key.eaten"]}`, msg: "event_types[0] is not a known event type"},
		{route: "GET /v1/webhooks", query: map[string]string{"limit": "1000"}, msg: "limit must be"},
		{route: "PATCH /v1/webhooks/{id}", body: `{"status":"paused"}`, msg: "status"},
		{route: "POST /v1/webhooks/{id}/rotate-secret", body: `{"overlap_seconds":-1}`, msg: "overlap_seconds"},
		{route: "GET /v1/webhooks/{id}/deliveries", query: map[string]string{"limit": "0"}, msg: "limit must be"},
		{route: "POST /v1/webhooks/{id}/test", body: `{"now":true}`, msg: `unknown field "now"`},
	}
	f := newFake(t)
	keyID, hookID := f.createKey("", "").id, f.createHook("").id
	for _, c := range cases {
		t.Run(c.route+" "+c.body+fmt.Sprint(c.query), func(t *testing.T) {
			id := keyID
			if strings.HasPrefix(c.route, "PATCH /v1/webhooks") || strings.Contains(c.route, "/v1/webhooks/") {
				id = hookID
			}
			writes, secretCalls, audit := f.st.Writes, len(f.sec.Calls), len(f.st.Audit)
			a := f.send(rq{route: c.route, id: id, body: c.body, query: c.query, headers: c.headers,
				merchant: map[bool]string{true: "-"}[c.route == "POST /v1/verify"]})
			a.must(t, 400)
			if code, msg := a.error(t); code != "invalid_request" || !strings.Contains(msg, c.msg) {
				t.Errorf("error %q %q, want invalid_request with %q", code, msg, c.msg)
			}
			if f.st.Writes != writes || len(f.sec.Calls) != secretCalls || len(f.st.Audit) != audit {
				t.Errorf("a refused request wrote something")
			}
		})
	}
}

// Another merchant's keys, endpoints and deliveries do not exist for a
// caller: every route answers 404 (never 403, which would confirm them),
// changes nothing, and lists show none of them.
func TestTenantsNeverSeeEachOther(t *testing.T) {
	f := newFake(t)
	k, w := f.createKey("", ""), f.createHook("")
	pk := f.send(rq{route: "POST /v1/keys/{id}/public-keys", id: k.id,
		body: `{"alg":"ed25519","public_key":"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n"}`}).
		must(t, 201).json(t)["id"].(string)
	d := f.send(rq{route: "POST /v1/webhooks/{id}/test", id: w.id}).must(t, 202).json(t)["id"].(string)
	keyBefore := f.send(rq{route: "GET /v1/keys/{id}", id: k.id}).must(t, 200).body
	hookBefore := f.send(rq{route: "GET /v1/webhooks/{id}", id: w.id}).must(t, 200).body
	writes, secretCalls := f.st.Writes, len(f.sec.Calls)

	for _, r := range api.Routes() {
		if r.Service || !strings.Contains(r.Key, "{id}") {
			continue
		}
		t.Run(r.Key, func(t *testing.T) {
			req := rq{route: r.Key, id: k.id, sub: pk, merchant: "m_beta", body: `{}`}
			switch {
			case strings.Contains(r.Key, "/v1/webhooks/"):
				req.id, req.sub = w.id, d
			case r.Key == "POST /v1/keys/{id}/verify":
				req.body = fmt.Sprintf(`{"secret":%q}`, k.secret)
			case r.Key == "POST /v1/keys/{id}/public-keys":
				req.body = `{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`
			case r.Key == "PATCH /v1/webhooks/{id}":
				req.body = `{"description":"mine now"}`
			case r.Key == "PATCH /v1/keys/{id}":
				req.body = `{"name":"mine now"}`
			}
			if strings.HasPrefix(r.Key, "GET ") || strings.HasPrefix(r.Key, "DELETE ") {
				req.body = ""
			}
			for _, role := range []string{"admin", "viewer"} {
				req.role = role
				a := f.send(req)
				if role == "viewer" && r.Need != apigw.Read {
					a.must(t, 403) // the role is checked before anything is looked up
					continue
				}
				a.must(t, 404)
				if code, _ := a.error(t); code != "not_found" {
					t.Errorf("code %q, want not_found", code)
				}
			}
		})
	}
	if f.st.Writes != writes || len(f.sec.Calls) != secretCalls {
		t.Errorf("another merchant's requests wrote to the stores")
	}
	if f.send(rq{route: "GET /v1/keys/{id}", id: k.id}).body != keyBefore ||
		f.send(rq{route: "GET /v1/webhooks/{id}", id: w.id}).body != hookBefore {
		t.Errorf("another merchant's requests changed the key or the endpoint")
	}
	for _, route := range []string{"GET /v1/keys", "GET /v1/webhooks"} {
		if data := f.send(rq{route: route, merchant: "m_beta"}).must(t, 200).json(t)["data"].([]any); len(data) != 0 {
			t.Errorf("%s for another merchant shows %d items", route, len(data))
		}
	}
	for _, rec := range f.send(rq{route: "GET /v1/audit", merchant: "m_beta"}).must(t, 200).json(t)["data"].([]any) {
		if r := rec.(map[string]any); r["outcome"] != "denied" || r["actor"] != "user_1" {
			t.Errorf("another merchant's audit log shows %v", r)
		}
	}
}

// An idempotent create's replay shows the secret again only while it is the
// key's current secret; another body, or a replay after a reset or revoke,
// is a 409 that hands out nothing. Another user's same key is another
// request.
func TestIdempotentReplayShowsNoSecretItNoLongerHas(t *testing.T) {
	f := newFake(t)
	body := `{"name":"checkout","environment":"test"}`
	post := func(subject, body string) answer {
		return f.send(rq{route: "POST /v1/keys", body: body, subject: subject, headers: map[string]string{"idempotency-key": "order-1"}})
	}
	first := post("", body).must(t, 201)
	again := post("", ` { "environment" : "test", "name" : "checkout" } `).must(t, 201)
	if again.body != first.body || again.headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("replay %s (replayed %q), want %s", again.body, again.headers["Idempotent-Replayed"], first.body)
	}
	if first.headers["Idempotent-Replayed"] != "" {
		t.Fatal("the first create says it was replayed")
	}
	secret := first.json(t)["secret"].(string)
	other := post("user_2", body).must(t, 201)
	if other.headers["Idempotent-Replayed"] != "" || strings.Contains(other.body, secret) {
		t.Fatal("another user's request with the same Idempotency-Key was a replay")
	}

	conflict := post("", `{"name":"other","environment":"test"}`).must(t, 409)
	id := first.json(t)["key"].(map[string]any)["id"].(string)
	reset := f.send(rq{route: "POST /v1/keys/{id}/reset", id: id}).must(t, 200)
	gone := post("", body).must(t, 409)
	f.send(rq{route: "DELETE /v1/keys/{id}", id: other.json(t)["key"].(map[string]any)["id"].(string), subject: "user_2"}).must(t, 204)
	revoked := post("user_2", body).must(t, 409)
	newSecret := reset.json(t)["secret"].(string)
	for _, a := range []answer{conflict, gone, revoked} {
		if strings.Contains(a.body, secret) || strings.Contains(a.body, newSecret) || strings.Contains(a.body, `"secret"`) {
			t.Errorf("a refused replay handed out a secret: %s", a.body)
		}
	}
	replays := 0
	for _, r := range f.st.Audit {
		if r.Outcome == "replayed" {
			replays++
		}
	}
	if replays != 1 {
		t.Errorf("%d replays audited, want 1", replays)
	}
}

// Lists page newest first with an opaque cursor: every item once, no
// next_cursor on the last page, and a cursor works only for the list and
// merchant it came from.
func TestPagination(t *testing.T) {
	f := newFake(t)
	var keys, hooks []string
	for i := range 5 {
		env := "test"
		if i%2 == 1 {
			env = "live"
		}
		keys = append(keys, f.createKey("", fmt.Sprintf(`{"name":"k%d","environment":%q}`, i, env)).id)
		hooks = append(hooks, f.createHook("").id)
		f.clock.Advance(time.Second)
	}
	f.createKey("m_beta", "")
	slices.Reverse(keys)
	slices.Reverse(hooks)

	walk := func(route string, query map[string]string) (ids []string, cursors []string) {
		t.Helper()
		q := map[string]string{"limit": "2"}
		for k, v := range query {
			q[k] = v
		}
		for range 10 {
			m := f.send(rq{route: route, query: q}).must(t, 200).json(t)
			for _, item := range m["data"].([]any) {
				ids = append(ids, item.(map[string]any)["id"].(string))
			}
			next, ok := m["next_cursor"].(string)
			if !ok {
				if m["next_cursor"] != nil {
					t.Fatalf("next_cursor = %v", m["next_cursor"])
				}
				return ids, cursors
			}
			cursors = append(cursors, next)
			q["cursor"] = next
		}
		t.Fatalf("%s never ended", route)
		return nil, nil
	}
	got, cursors := walk("GET /v1/keys", nil)
	if !slices.Equal(got, keys) || len(cursors) != 2 {
		t.Errorf("keys pages %v (%d cursors), want %v", got, len(cursors), keys)
	}
	if got, _ := walk("GET /v1/keys", map[string]string{"environment": "live"}); !slices.Equal(got, []string{keys[1], keys[3]}) {
		t.Errorf("live keys %v, want %v", got, []string{keys[1], keys[3]})
	}
	if got, _ := walk("GET /v1/webhooks", nil); !slices.Equal(got, hooks) {
		t.Errorf("endpoint pages %v, want %v", got, hooks)
	}
	if got, _ := walk("GET /v1/audit", nil); len(got) != 10 {
		t.Errorf("audit pages hold %d records, want 10", len(got))
	}
	for _, misuse := range []rq{
		{route: "GET /v1/keys", merchant: "m_beta", query: map[string]string{"cursor": cursors[0]}},
		{route: "GET /v1/webhooks", query: map[string]string{"cursor": cursors[0]}},
		{route: "GET /v1/audit", query: map[string]string{"cursor": cursors[0]}},
	} {
		if code, msg := f.send(misuse).must(t, 400).error(t); code != "invalid_request" || msg != "cursor is not valid" {
			t.Errorf("%s with another list's cursor: %q %q", misuse.route, code, msg)
		}
	}
	m := f.send(rq{route: "GET /v1/keys"}).must(t, 200).json(t)
	if n := len(m["data"].([]any)); n != 5 || m["next_cursor"] != nil {
		t.Errorf("default page: %d keys, next_cursor %v", n, m["next_cursor"])
	}
}

// A secret is in exactly one response: the create, reset or rotate answer
// that made it. Nothing else shows it, not even an answer to a request that
// carries it (verify, a path, a cursor, a field name), and no log holds it
// (newFake checks).
func TestSecretsAreShownOnce(t *testing.T) {
	f := newFake(t)
	k := f.createKey("", `{"name":"k","environment":"test","scopes":["payments:read"]}`)
	w := f.createHook("")
	reset := f.send(rq{route: "POST /v1/keys/{id}/reset", id: k.id, body: `{"grace_period_seconds":3600}`}).must(t, 200).json(t)["secret"].(string)
	rotated := f.send(rq{route: "POST /v1/webhooks/{id}/rotate-secret", id: w.id, body: `{"overlap_seconds":600}`}).
		must(t, 200).json(t)["signing_secret"].(string)
	d := f.send(rq{route: "POST /v1/webhooks/{id}/test", id: w.id}).must(t, 202).json(t)["id"].(string)
	issuedBodies := len(f.bodies)
	for _, s := range []string{k.secret, reset} {
		for _, r := range []rq{
			{route: "POST /v1/keys/{id}/verify", id: k.id, body: fmt.Sprintf(`{"secret":%q}`, s)},
			{route: "POST /v1/verify", merchant: "-", body: fmt.Sprintf(`{"secret":%q,"scope":"payments:read"}`, s)},
			{route: "POST /v1/verify", merchant: "-", body: fmt.Sprintf(`{"secret":%q,"scope":"payments:write"}`, s)},
			{route: "GET /v1/keys/{id}", id: s},
			{route: "POST /v1/keys", body: fmt.Sprintf(`{%q:1}`, s)},
			{route: "POST /v1/keys", body: fmt.Sprintf(`{"name":%q,"environment":%q}`, "k", s)},
			{route: "GET /v1/keys", query: map[string]string{"cursor": s, "status": s}},
			{route: "PATCH /v1/keys/{id}", id: k.id, body: fmt.Sprintf(`{"scopes":[%q]}`, s)},
		} {
			f.send(r)
		}
	}
	for _, r := range []rq{
		{route: "GET /v1/keys/{id}", id: k.id},
		{route: "GET /v1/keys"},
		{route: "PATCH /v1/keys/{id}", id: k.id, body: `{"name":"renamed"}`},
		{route: "GET /v1/keys/{id}/usage", id: k.id},
		{route: "GET /v1/keys/{id}/public-keys", id: k.id},
		{route: "GET /v1/audit"},
		{route: "GET /v1/webhooks/{id}", id: w.id},
		{route: "GET /v1/webhooks"},
		{route: "PATCH /v1/webhooks/{id}", id: w.id, body: `{"description":"d"}`},
		{route: "GET /v1/webhooks/{id}/deliveries", id: w.id},
		{route: "POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", id: w.id, sub: d},
		{route: "GET /v1/webhooks/{id}", id: w.secret},
		{route: "POST /v1/webhooks", body: fmt.Sprintf(`{"url":"http://127.0.0.1:9/","description":%q,"event_types":[%q]}`, rotated, rotated)},
		{route: "DELETE /v1/webhooks/{id}", id: w.id},
		{route: "DELETE /v1/keys/{id}", id: k.id},
		{route: "GET /v1/keys/{id}", id: k.id},
	} {
		f.send(r)
	}
	secrets := f.secrets()
	if len(secrets) != 4 {
		t.Fatalf("%d secrets handed out, want 4 (create, reset, endpoint create, rotate)", len(secrets))
	}
	for _, s := range secrets {
		n := 0
		for i, b := range f.bodies {
			if strings.Contains(b, s) {
				n++
				if i >= issuedBodies {
					t.Errorf("a secret is in a later answer: %.200s", b)
				}
			}
		}
		if n != 1 {
			t.Errorf("a secret is in %d answers, want 1", n)
		}
	}
	for _, r := range f.st.Audit {
		for _, s := range secrets {
			if strings.Contains(fmt.Sprintf("%+v", r), s) {
				t.Errorf("a secret is in the audit log")
			}
		}
	}
}

// An Idempotency-Key is 1..255 characters (as the OpenAPI document's
// maxLength counts them), not bytes; one that is not valid UTF-8 is a 400.
func TestIdempotencyKeyLengthInCharacters(t *testing.T) {
	f := newFake(t)
	body := `{"name":"checkout","environment":"test"}`
	for _, c := range []struct {
		name, value string
		status      int
	}{
		{"255 two-byte characters", strings.Repeat("é", 255), 201},
		{"256 two-byte characters", strings.Repeat("é", 256), 400},
		{"255 ASCII characters", strings.Repeat("k", 255), 201},
		{"not UTF-8", "order-\xff", 400},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := f.send(rq{route: "POST /v1/keys", body: body, headers: map[string]string{"idempotency-key": c.value}}).must(t, c.status)
			if c.status == 400 {
				if code, msg := a.error(t); code != "invalid_request" || !strings.Contains(msg, "Idempotency-Key") {
					t.Errorf("error %q %q", code, msg)
				}
			}
		})
	}
}

// An idempotent create is replayed only within 24 h of the first: after
// that, the same Idempotency-Key and body make a new key.
func TestIdempotencyLastsADay(t *testing.T) {
	f := newFake(t)
	body := `{"name":"checkout","environment":"test"}`
	post := func() answer {
		return f.send(rq{route: "POST /v1/keys", body: body, headers: map[string]string{"idempotency-key": "order-7"}}).must(t, 201)
	}
	first := post()
	f.clock.Advance(24*time.Hour - time.Second)
	if again := post(); again.body != first.body || again.headers["Idempotent-Replayed"] != "true" {
		t.Fatal("a retry within 24 h was not replayed")
	}
	f.clock.Advance(time.Second)
	later := post()
	if later.headers["Idempotent-Replayed"] != "" || later.json(t)["key"].(map[string]any)["id"] == first.json(t)["key"].(map[string]any)["id"] {
		t.Fatal("a retry 24 h later was replayed")
	}
	if again := post(); again.body != later.body || again.headers["Idempotent-Replayed"] != "true" {
		t.Fatal("the new key's create is not replayed in its turn")
	}
}

// A list without limit holds 50 items; limit goes up to 100.
func TestListLimits(t *testing.T) {
	f := newFake(t)
	for i := range 101 {
		f.createKey("", fmt.Sprintf(`{"name":"k%d","environment":"test"}`, i))
		f.clock.Advance(time.Millisecond)
	}
	for _, route := range []string{"GET /v1/keys", "GET /v1/audit"} {
		for _, c := range []struct {
			limit string
			want  int
		}{{"", 50}, {"1", 1}, {"100", 100}} {
			q := map[string]string{}
			if c.limit != "" {
				q["limit"] = c.limit
			}
			m := f.send(rq{route: route, query: q}).must(t, 200).json(t)
			if n := len(m["data"].([]any)); n != c.want || m["next_cursor"] == nil {
				t.Errorf("%s limit %q: %d items, next_cursor %v; want %d and a cursor", route, c.limit, n, m["next_cursor"], c.want)
			}
		}
	}
}

// Per-key verify counts every try, right secrets too: the 11th in a rolling
// minute is a 429 whatever it carries, and the window rolls.
func TestVerifyCountsEveryTry(t *testing.T) {
	f := newFake(t)
	k := f.createKey("", "")
	body := `{"secret":"` + k.secret + `"}`
	for i := range 10 {
		m := f.send(rq{route: "POST /v1/keys/{id}/verify", id: k.id, body: body}).must(t, 200).json(t)
		if m["valid"] != true || m["status"] != "active" {
			t.Fatalf("try %d: %v", i+1, m)
		}
		f.clock.Advance(5 * time.Second)
	}
	a := f.send(rq{route: "POST /v1/keys/{id}/verify", id: k.id, body: body}).must(t, 429)
	if n, err := strconv.Atoi(a.headers["Retry-After"]); err != nil || n < 1 || n > 60 {
		t.Errorf("Retry-After %q", a.headers["Retry-After"])
	}
	f.clock.Advance(11 * time.Second) // the first try is now more than a minute old
	f.send(rq{route: "POST /v1/keys/{id}/verify", id: k.id, body: body}).must(t, 200)
	f.send(rq{route: "POST /v1/keys/{id}/verify", id: k.id, body: body}).must(t, 429)
}

// What each change announces: a patch that changes nothing, and a delete of
// a revoked key, announce nothing; a patch that disables sends key.disabled,
// not key.updated; GET still shows a revoked key.
func TestChangesAnnounceOnce(t *testing.T) {
	f := newFake(t)
	k := f.createKey("", "")
	types := func() []string {
		var out []string
		for _, e := range f.st.Events {
			if e.ResourceID == k.id {
				out = append(out, e.Type)
			}
		}
		return out
	}
	steps := []rq{
		{route: "PATCH /v1/keys/{id}", id: k.id, body: `{"name":"checkout"}`},
		{route: "PATCH /v1/keys/{id}", id: k.id, body: `{"status":"disabled"}`},
		{route: "PATCH /v1/keys/{id}", id: k.id, body: `{"status":"disabled","name":"checkout"}`},
		{route: "PATCH /v1/keys/{id}", id: k.id, body: `{"status":"active"}`},
		{route: "DELETE /v1/keys/{id}", id: k.id},
		{route: "DELETE /v1/keys/{id}", id: k.id},
	}
	for _, s := range steps {
		want := 200
		if strings.HasPrefix(s.route, "DELETE") {
			want = 204
		}
		f.send(s).must(t, want)
	}
	if got, want := types(), []string{"key.created", "key.disabled", "key.updated", "key.revoked"}; !slices.Equal(got, want) {
		t.Errorf("events %v, want %v", got, want)
	}
	if m := f.send(rq{route: "GET /v1/keys/{id}", id: k.id}).must(t, 200).json(t); m["status"] != "revoked" {
		t.Errorf("GET of a revoked key: status %v", m["status"])
	}
}

// The same Idempotency-Key with a body whose JSON value differs is a 409,
// even where the difference means nothing to the create (an explicit null,
// an instant written with another offset); the same value written another
// way (member order, spacing, escapes) is a replay.
func TestIdempotencyComparesJSONValues(t *testing.T) {
	body := `{"name":"checkout","environment":"test","expires_at":"2027-01-01T00:00:00Z"}`
	for _, c := range []struct {
		name, body string
		status     int
	}{
		{"members reordered and spaced", ` { "expires_at" : "2027-01-01T00:00:00Z", "environment":"test", "name":"checkout" } `, 201},
		{"a string escaped", `{"name":"\u0063heckout","environment":"test","expires_at":"2027-01-01T00:00:00Z"}`, 201},
		{"an explicit null added", `{"name":"checkout","environment":"test","expires_at":"2027-01-01T00:00:00Z","rotation_days":null}`, 409},
		{"the instant with another offset", `{"name":"checkout","environment":"test","expires_at":"2027-01-01T01:00:00+01:00"}`, 409},
		{"the default currency written out", `{"name":"checkout","environment":"test","expires_at":"2027-01-01T00:00:00Z","currency":"fiat"}`, 409},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFake(t)
			h := map[string]string{"idempotency-key": "order-9"}
			first := f.send(rq{route: "POST /v1/keys", body: body, headers: h}).must(t, 201)
			again := f.send(rq{route: "POST /v1/keys", body: c.body, headers: h}).must(t, c.status)
			if c.status == 201 && (again.body != first.body || again.headers["Idempotent-Replayed"] != "true") {
				t.Fatalf("not a replay: %s", again.body)
			}
		})
	}
}
