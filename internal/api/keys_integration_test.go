//go:build integration

package api_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/secret"
)

const minimal = `{"name":"checkout","environment":"test","scopes":["payments:read"]}`

func TestCreateGetListLifecycle(t *testing.T) {
	e := newEnv(t)
	c := e.create(`{"name":"checkout backend","environment":"live","currency":"crypto","scopes":["payments:read","payments:*"],
		"allowed_ips":["203.0.113.0/24","2001:db8::1"],"auth_modes":["hmac"],"rotation_days":90}`)
	if !strings.HasPrefix(c.ID, "ck_live_") || !strings.HasPrefix(c.Secret, "paykeys_sk_live_") {
		t.Fatalf("wrong prefixes: %s", c.ID)
	}
	want := map[string]any{
		"merchant_id": "m_alpha", "name": "checkout backend", "environment": "live", "currency": "crypto",
		"status": "active", "secret_version": float64(1), "secret_hint": "…" + c.Secret[len(c.Secret)-4:],
		"rotation_days": float64(90), "expires_at": nil, "previous_secret_expires_at": nil, "last_used_at": nil,
	}
	for k, v := range want {
		if c.Key[k] != v {
			t.Errorf("%s = %#v, want %#v", k, c.Key[k], v)
		}
	}
	if fmt.Sprint(c.Key["allowed_ips"]) != "[203.0.113.0/24 2001:db8::1/128]" || fmt.Sprint(c.Key["auth_modes"]) != "[hmac]" {
		t.Errorf("allowed_ips/auth_modes not canonical: %v %v", c.Key["allowed_ips"], c.Key["auth_modes"])
	}
	got := e.do(req{route: "GET /v1/keys/{id}", id: c.ID})
	if got.Status != 200 || got.json(t)["id"] != c.ID || strings.Contains(got.Body, c.Secret) {
		t.Fatalf("get: %d %s", got.Status, got.Body)
	}
	if got.json(t)["revision"] != float64(1) || c.Key["revision"] != float64(1) {
		t.Errorf("revision of a new key is not 1: %s", got.Body)
	}
	for _, field := range []string{"secret\"", "hash"} {
		if strings.Contains(got.Body, field) {
			t.Errorf("key resource leaks %q: %s", field, got.Body)
		}
	}
	if v, st := e.verify(c.ID, c.Secret); !v || st != "active" {
		t.Fatalf("verify = %v %s", v, st)
	}
}

func TestListPaginationAndFilters(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := range 5 {
		env := "test"
		if i%2 == 1 {
			env = "live"
		}
		ids = append(ids, e.create(fmt.Sprintf(`{"name":"k%d","environment":%q}`, i, env)).ID)
		e.clock.Advance(time.Second)
	}
	e.create(`{"name":"other","environment":"test"}`, merchant("m_beta"))
	var seen []string
	cursor := ""
	for page := 0; page < 5; page++ {
		q := map[string]string{"limit": "2"}
		if cursor != "" {
			q["cursor"] = cursor
		}
		resp := e.do(req{route: "GET /v1/keys", query: q})
		if resp.Status != 200 {
			t.Fatalf("list: %d %s", resp.Status, resp.Body)
		}
		m := resp.json(t)
		for _, k := range m["data"].([]any) {
			seen = append(seen, k.(map[string]any)["id"].(string))
		}
		if m["next_cursor"] == nil {
			break
		}
		cursor = m["next_cursor"].(string)
	}
	wantOrder := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	if fmt.Sprint(seen) != fmt.Sprint(wantOrder) {
		t.Fatalf("pages = %v, want newest first %v", seen, wantOrder)
	}
	live := e.do(req{route: "GET /v1/keys", query: map[string]string{"environment": "live"}}).json(t)["data"].([]any)
	if len(live) != 2 {
		t.Fatalf("environment filter returned %d keys, want 2", len(live))
	}
	e.do(req{route: "DELETE /v1/keys/{id}", id: ids[0]})
	revoked := e.do(req{route: "GET /v1/keys", query: map[string]string{"status": "revoked"}}).json(t)["data"].([]any)
	if len(revoked) != 1 || revoked[0].(map[string]any)["id"] != ids[0] {
		t.Fatalf("status filter: %v", revoked)
	}
	for name, q := range map[string]map[string]string{
		"limit 0": {"limit": "0"}, "limit 101": {"limit": "101"}, "limit x": {"limit": "x"},
		"bad env": {"environment": "prod"}, "bad status": {"status": "gone"},
		"forged cursor":    {"cursor": base64.RawURLEncoding.EncodeToString([]byte(`{"id":"ck_test_x"}`))},
		"garbage cursor":   {"cursor": "!!!"},
		"truncated cursor": {"cursor": cursor[:len(cursor)/2]},
	} {
		if resp := e.do(req{route: "GET /v1/keys", query: q}); resp.Status != 400 || resp.errCode(t) != "invalid_request" {
			t.Errorf("%s: %d %s, want 400", name, resp.Status, resp.Body)
		}
	}
}

func TestBadInputIsA400(t *testing.T) {
	e := newEnv(t)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	cases := map[string]string{
		"malformed json":    `{"name":`,
		"not an object":     `["x"]`,
		"unknown field":     `{"name":"x","environment":"test","colour":"red"}`,
		"wrong type name":   `{"name":5,"environment":"test"}`,
		"wrong type scopes": `{"name":"x","environment":"test","scopes":"payments:read"}`,
		"missing name":      `{"environment":"test"}`,
		"missing env":       `{"name":"x"}`,
		"bad env":           `{"name":"x","environment":"prod"}`,
		"empty name":        `{"name":"","environment":"test"}`,
		"long name":         fmt.Sprintf(`{"name":%q,"environment":"test"}`, strings.Repeat("n", 101)),
		"bad cidr":          `{"name":"x","environment":"test","allowed_ips":["10.0.0.1/8"]}`,
		"not an ip":         `{"name":"x","environment":"test","allowed_ips":["intranet"]}`,
		"past expiry":       fmt.Sprintf(`{"name":"x","environment":"test","expires_at":%q}`, past),
		"bad timestamp":     `{"name":"x","environment":"test","expires_at":"tomorrow"}`,
		"rotation 0":        `{"name":"x","environment":"test","rotation_days":0}`,
		"rotation 3651":     `{"name":"x","environment":"test","rotation_days":3651}`,
		"fractional days":   `{"name":"x","environment":"test","rotation_days":1.5}`,
		"empty auth modes":  `{"name":"x","environment":"test","auth_modes":[]}`,
		"bad scope":         `{"name":"x","environment":"test","scopes":["Payments"]}`,
		"trailing data":     `{"name":"x","environment":"test"} {}`,
		"empty body":        `-`,
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			resp := e.do(req{route: "POST /v1/keys", body: body})
			if resp.Status != 400 || resp.errCode(t) != "invalid_request" {
				t.Fatalf("%d %s, want 400 invalid_request", resp.Status, resp.Body)
			}
		})
	}
	big := fmt.Sprintf(`{"name":"x","environment":"test","scopes":[%s"a:b"]}`, strings.Repeat(`"a:b",`, 12000))
	if resp := e.do(req{route: "POST /v1/keys", body: big}); resp.Status != 413 || resp.errCode(t) != "payload_too_large" {
		t.Fatalf("oversized body: %d %s", resp.Status, resp.Body)
	}
	k := e.create(minimal)
	patches := map[string]string{
		"unknown field": `{"colour":"red"}`, "revoke via patch": `{"status":"revoked"}`,
		"null name": `{"name":null}`, "bad cidr": `{"allowed_ips":["2001:db8::1/32"]}`,
		"past expiry": fmt.Sprintf(`{"expires_at":%q}`, past), "wrong type": `{"scopes":{}}`,
	}
	for name, body := range patches {
		if resp := e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: body}); resp.Status != 400 {
			t.Errorf("patch %s: %d %s, want 400", name, resp.Status, resp.Body)
		}
	}
	for name, body := range map[string]string{"negative": `{"grace_period_seconds":-1}`, "too long": `{"grace_period_seconds":604801}`, "string": `{"grace_period_seconds":"60"}`} {
		if resp := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: body}); resp.Status != 400 {
			t.Errorf("reset %s: %d %s, want 400", name, resp.Status, resp.Body)
		}
	}
	if v, _ := e.verify(k.ID, k.Secret); !v {
		t.Fatal("bad input changed the key")
	}
}

func TestRolesAndTenancy(t *testing.T) {
	e := newEnv(t)
	k := e.create(minimal)
	writes := []req{
		{route: "POST /v1/keys", body: minimal},
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"y"}`},
		{route: "DELETE /v1/keys/{id}", id: k.ID},
		{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"},
		{route: "GET /v1/audit"},
	}
	for _, role := range []string{"developer", "viewer", "owner", ""} {
		for _, r := range writes {
			r.role = or(role, "<none>")
			if resp := e.do(r); resp.Status != 403 || resp.errCode(t) != "forbidden" {
				t.Errorf("%s as %q: %d, want 403", r.route, role, resp.Status)
			}
		}
	}
	verifyAs := func(role string) int {
		b, _ := json.Marshal(map[string]string{"secret": k.Secret})
		return e.do(req{route: "POST /v1/keys/{id}/verify", id: k.ID, body: string(b), role: role}).Status
	}
	if verifyAs("developer") != 200 || verifyAs("viewer") != 403 {
		t.Error("developer may verify, viewer may not")
	}
	for _, role := range []string{"viewer", "developer"} {
		if resp := e.do(req{route: "GET /v1/keys/{id}", id: k.ID, role: role}); resp.Status != 200 {
			t.Errorf("%s cannot read: %d", role, resp.Status)
		}
	}
	for _, claim := range []string{"sub", "merchant_id"} {
		r := req{route: "GET /v1/keys"}
		if claim == "sub" {
			r.sub = "<none>"
		} else {
			r.merchant = "<none>"
		}
		if resp := e.do(r); resp.Status != 401 || resp.errCode(t) != "unauthenticated" {
			t.Errorf("no %s: %d, want 401", claim, resp.Status)
		}
	}
	// Another merchant's key is 404 on every route, and is left untouched.
	other := []req{
		{route: "GET /v1/keys/{id}", id: k.ID},
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"stolen"}`},
		{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"},
		{route: "POST /v1/keys/{id}/verify", id: k.ID, body: fmt.Sprintf(`{"secret":%q}`, k.Secret)},
		{route: "DELETE /v1/keys/{id}", id: k.ID},
	}
	for _, r := range other {
		r.merchant = "m_beta"
		if resp := e.do(r); resp.Status != 404 || resp.errCode(t) != "not_found" {
			t.Errorf("%s from another merchant: %d %s, want 404", r.route, resp.Status, resp.Body)
		}
	}
	if list := e.do(req{route: "GET /v1/keys", merchant: "m_beta"}).json(t)["data"].([]any); len(list) != 0 {
		t.Errorf("another merchant lists %d keys", len(list))
	}
	if v, st := e.verify(k.ID, k.Secret); !v || st != "active" {
		t.Fatal("another merchant's requests changed the key")
	}
	if resp := e.do(req{route: "GET /v1/keys/{id}", id: "ck_test_doesnotexist"}); resp.Status != 404 {
		t.Errorf("malformed ID: %d, want 404", resp.Status)
	}
}

func TestPatchRevokeAndReset(t *testing.T) {
	e := newEnv(t)
	k := e.create(minimal)
	p := e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"renamed","scopes":["refunds:*"],"allowed_ips":["198.51.100.7"],"rotation_days":30,"expires_at":"2099-01-01T00:00:00Z"}`})
	m := p.json(t)
	if p.Status != 200 || m["name"] != "renamed" || fmt.Sprint(m["scopes"]) != "[refunds:*]" || m["expires_at"] != "2099-01-01T00:00:00Z" {
		t.Fatalf("patch: %d %s", p.Status, p.Body)
	}
	p = e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"expires_at":null,"rotation_days":null,"allowed_ips":null}`})
	if m = p.json(t); m["expires_at"] != nil || m["rotation_days"] != nil || len(m["allowed_ips"].([]any)) != 0 {
		t.Fatalf("null did not clear: %s", p.Body)
	}
	p = e.do(req{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"status":"disabled"}`})
	if p.json(t)["status"] != "disabled" {
		t.Fatalf("disable: %s", p.Body)
	}
	if v, st := e.verify(k.ID, k.Secret); !v || st != "disabled" {
		t.Fatalf("verify of a disabled key = %v %s, want true disabled", v, st)
	}
	// A disabled key can be reset; the reset returns a working secret.
	r := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"})
	if r.Status != 200 {
		t.Fatalf("reset: %d %s", r.Status, r.Body)
	}
	newSecret := r.json(t)["secret"].(string)
	if v, _ := e.verify(k.ID, newSecret); !v {
		t.Fatal("new secret does not verify")
	}
	if v, _ := e.verify(k.ID, k.Secret); v {
		t.Fatal("old secret still verifies after a reset without grace")
	}
	if resp := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}); resp.Status != 204 || resp.Body != "" {
		t.Fatalf("delete: %d %q", resp.Status, resp.Body)
	}
	if resp := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}); resp.Status != 204 {
		t.Fatalf("second delete: %d", resp.Status)
	}
	if g := e.do(req{route: "GET /v1/keys/{id}", id: k.ID}).json(t); g["status"] != "revoked" {
		t.Fatalf("revoked key shows %v", g["status"])
	}
	if v, st := e.verify(k.ID, newSecret); v || st != "revoked" {
		t.Fatalf("verify after revoke = %v %s", v, st)
	}
	for _, r := range []req{
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"x"}`},
		{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"},
	} {
		if resp := e.do(r); resp.Status != 409 || resp.errCode(t) != "conflict" {
			t.Errorf("%s on a revoked key: %d, want 409", r.route, resp.Status)
		}
	}
	if _, err := currentSecret(t, e, k.ID); err == nil {
		t.Fatal("revoked key's secret still readable")
	}
}

func TestResetGracePeriod(t *testing.T) {
	e := newEnv(t)
	k := e.create(minimal)
	r := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: `{"grace_period_seconds":3600}`})
	m := r.json(t)
	if r.Status != 200 || m["key"].(map[string]any)["previous_secret_expires_at"] == nil {
		t.Fatalf("reset with grace: %d %s", r.Status, r.Body)
	}
	s2 := m["secret"].(string)
	for _, s := range []string{k.Secret, s2} {
		if v, _ := e.verify(k.ID, s); !v {
			t.Fatal("both secrets must verify during the grace period")
		}
	}
	e.clock.Advance(time.Hour)
	if v, _ := e.verify(k.ID, k.Secret); v {
		t.Fatal("old secret verifies after its grace period")
	}
	// A reset during a grace period ends the older secret at once.
	e.clock.Advance(time.Minute)
	r = e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: `{"grace_period_seconds":600}`})
	s3 := r.json(t)["secret"].(string)
	r = e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: `{"grace_period_seconds":600}`})
	s4 := r.json(t)["secret"].(string)
	e.clock.Advance(time.Minute)
	if v, _ := e.verify(k.ID, s3); !v {
		t.Fatal("the previous secret must work during its grace")
	}
	if v, _ := e.verify(k.ID, s2); v {
		t.Fatal("the secret before the previous one must stop working")
	}
	if v, _ := e.verify(k.ID, s4); !v {
		t.Fatal("current secret does not verify")
	}
	// Secrets Manager's labels follow: AWSCURRENT is s4, AWSPREVIOUS is s3.
	assertLabels(t, e, k.ID, s4, s3)
}

// assertLabels checks the secret store against the key record.
func assertLabels(t *testing.T, e *env, id, current, previous string) {
	t.Helper()
	ctx := context.Background()
	cur, err := currentSecret(t, e, id)
	if err != nil || cur != current {
		t.Fatalf("AWSCURRENT does not hold the current secret (err %v)", err)
	}
	if previous != "" {
		k, err := e.store.GetKey(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		prev, err := e.secrets.Get(ctx, id, k.PrevSecretVersionID)
		if err != nil || prev != previous {
			t.Fatalf("the previous version does not hold the previous secret (err %v)", err)
		}
	}
}

func TestVerifyIsRateLimited(t *testing.T) {
	e := newEnv(t)
	k := e.create(minimal)
	for i := range 10 {
		if v, _ := e.verify(k.ID, "paykeys_sk_test_wrong"); v {
			t.Fatalf("try %d: a wrong secret verified", i)
		}
	}
	b, _ := json.Marshal(map[string]string{"secret": k.Secret})
	resp := e.do(req{route: "POST /v1/keys/{id}/verify", id: k.ID, body: string(b)})
	if resp.Status != 429 || resp.errCode(t) != "rate_limited" || resp.Headers["Retry-After"] == "" {
		t.Fatalf("11th try: %d %v %s, want 429 with Retry-After", resp.Status, resp.Headers, resp.Body)
	}
	e.clock.Advance(2 * time.Minute)
	if v, _ := e.verify(k.ID, k.Secret); !v {
		t.Fatal("verify does not recover after the window")
	}
	malformed := map[string]string{"empty": "", "truncated": k.Secret[:len(k.Secret)-1], "other key": e.create(minimal).Secret}
	for name, s := range malformed {
		if v, _ := e.verify(k.ID, s); v {
			t.Errorf("%s secret verified", name)
		}
	}
}

func TestIdempotentCreate(t *testing.T) {
	e := newEnv(t)
	first := e.do(req{route: "POST /v1/keys", body: minimal, headers: map[string]string{"idempotency-key": "order-42"}})
	if first.Status != 201 {
		t.Fatalf("create: %d %s", first.Status, first.Body)
	}
	reformatted := `{ "scopes": ["payments:read"], "environment": "test", "name": "checkout" }`
	again := e.do(req{route: "POST /v1/keys", body: reformatted, headers: map[string]string{"idempotency-key": "order-42"}})
	if again.Status != 201 || again.Body != first.Body {
		t.Fatalf("replay differs:\n%s\n%s", first.Body, again.Body)
	}
	other := e.do(req{route: "POST /v1/keys", body: `{"name":"different","environment":"test"}`, headers: map[string]string{"idempotency-key": "order-42"}})
	if other.Status != 409 || other.errCode(t) != "conflict" {
		t.Fatalf("same key, other body: %d %s", other.Status, other.Body)
	}
	// The key is per merchant; and errors are not remembered.
	if resp := e.do(req{route: "POST /v1/keys", body: minimal, merchant: "m_beta", headers: map[string]string{"idempotency-key": "order-42"}}); resp.Status != 201 || resp.Body == first.Body {
		t.Fatalf("another merchant's idempotency key collided: %d", resp.Status)
	}
	if resp := e.do(req{route: "POST /v1/keys", body: `{"name":""}`, headers: map[string]string{"idempotency-key": "order-43"}}); resp.Status != 400 {
		t.Fatal("want 400")
	}
	if resp := e.do(req{route: "POST /v1/keys", body: minimal, headers: map[string]string{"idempotency-key": "order-43"}}); resp.Status != 201 {
		t.Fatalf("an error was remembered: %d", resp.Status)
	}
	if resp := e.do(req{route: "POST /v1/keys", body: minimal, headers: map[string]string{"idempotency-key": strings.Repeat("k", 256)}}); resp.Status != 400 {
		t.Fatalf("256-character Idempotency-Key: %d", resp.Status)
	}
	// 255 characters of two bytes each are stored and read back.
	wide := map[string]string{"idempotency-key": strings.Repeat("é", 255)}
	made := e.do(req{route: "POST /v1/keys", body: minimal, headers: wide})
	if replay := e.do(req{route: "POST /v1/keys", body: minimal, headers: wide}); made.Status != 201 || replay.Body != made.Body || replay.Headers["Idempotent-Replayed"] != "true" {
		t.Fatalf("255 two-byte characters: %d, replay %d %s", made.Status, replay.Status, replay.Body)
	}
	// Concurrent retries with one key make one key.
	var wg sync.WaitGroup
	bodies := make([]string, 8)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := e.do(req{route: "POST /v1/keys", body: minimal, headers: map[string]string{"idempotency-key": "order-44"}})
			bodies[i] = fmt.Sprint(resp.Status, resp.Body)
		}()
	}
	wg.Wait()
	for _, b := range bodies[1:] {
		if b != bodies[0] || !strings.HasPrefix(b, "201") {
			t.Fatalf("concurrent retries differ: %s vs %s", b, bodies[0])
		}
	}
}

func TestConcurrentResets(t *testing.T) {
	e := newEnv(t)
	k := e.create(minimal)
	type result struct {
		status  int
		secret  string
		version int
	}
	results := make([]result, 20)
	var wg sync.WaitGroup
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"})
			results[i].status = resp.Status
			if resp.Status == 200 {
				m := resp.json(t)
				results[i].secret = m["secret"].(string)
				results[i].version = int(m["key"].(map[string]any)["secret_version"].(float64))
			} else if resp.Status != 409 {
				t.Errorf("reset answered %d %s", resp.Status, resp.Body)
			}
		}()
	}
	wg.Wait()
	ok, maxVersion, newest := 0, 0, ""
	versions := map[int]bool{}
	for _, r := range results {
		if r.status != 200 {
			continue
		}
		ok++
		if versions[r.version] {
			t.Fatalf("two resets returned secret version %d", r.version)
		}
		versions[r.version] = true
		if r.version > maxVersion {
			maxVersion, newest = r.version, r.secret
		}
	}
	if ok == 0 {
		t.Fatal("no reset succeeded")
	}
	cur, err := e.store.GetKey(context.Background(), k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if cur.SecretVersion != maxVersion {
		t.Fatalf("current version %d, newest returned %d", cur.SecretVersion, maxVersion)
	}
	working := 0
	for _, r := range append(results, result{status: 200, secret: k.Secret}) {
		if r.status == 200 && cur.MatchSecret(key.Hash(r.secret), e.clock.Now()) != key.NoMatch {
			working++
		}
	}
	if working != 1 {
		t.Fatalf("%d secrets work after concurrent resets, want exactly 1", working)
	}
	assertLabels(t, e, k.ID, newest, "")
	t.Logf("%d of 20 concurrent resets answered 200, the rest 409", ok)
}

// currentSecret reads the version labelled AWSCURRENT straight from the emulator.
func currentSecret(t *testing.T, e *env, id string) (string, error) {
	ctx := context.Background()
	labels, err := e.secrets.Versions(ctx, id)
	if err != nil {
		return "", err
	}
	for v, stages := range labels {
		if slices.Contains(stages, secret.StageCurrent) {
			return e.secrets.Get(ctx, id, v)
		}
	}
	return "", errors.New("no version is labelled AWSCURRENT")
}
