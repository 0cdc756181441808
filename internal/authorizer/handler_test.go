package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// unit is a Handler over in-memory stores holding two keys, A and B.
type unit struct {
	h              *authorizer.Handler
	log            bytes.Buffer
	a, b           *key.Issued
	keyReads       atomic.Int64
	keysErr        error
	secretsErr     error
	recorded       []authz.Decision
	now            time.Time
	secretsByVerID map[string]string
}

func (u *unit) GetKey(_ context.Context, id string) (*key.Key, error) {
	u.keyReads.Add(1)
	if u.keysErr != nil {
		return nil, u.keysErr
	}
	for _, k := range []*key.Issued{u.a, u.b} {
		if k.Key.ID == id {
			return k.Key, nil
		}
	}
	return nil, key.NotFound("key", id)
}

func (u *unit) Get(_ context.Context, _, versionID string) (string, error) {
	if u.secretsErr != nil {
		return "", u.secretsErr
	}
	if s, ok := u.secretsByVerID[versionID]; ok {
		return s, nil
	}
	return "", key.NotFound("secret", versionID)
}

func (u *unit) Record(d authz.Decision, _ string, _ time.Time) { u.recorded = append(u.recorded, d) }

func newUnit(t *testing.T, env key.Environment) *unit {
	t.Helper()
	u := &unit{now: time.Unix(1795420800, 0).UTC(), secretsByVerID: map[string]string{}}
	for i, p := range []**key.Issued{&u.a, &u.b} {
		iss, err := key.New(key.NewParams{MerchantID: "m_" + strconv.Itoa(i), Name: "k", Environment: key.EnvTest,
			Scopes: []string{"payments:read", "payments:write"}}, "11111111-2222-4333-8444-55555555555"+strconv.Itoa(i), u.now)
		if err != nil {
			t.Fatal(err)
		}
		*p = &iss
		u.secretsByVerID[iss.Key.SecretVersionID] = iss.Secret
	}
	routes, err := authorizer.ParseRoutes("GET /demo/{proxy+}=payments:read;ANY /demo/{proxy+}=payments:write")
	if err != nil {
		t.Fatal(err)
	}
	engine := authz.New(u, u, noNonces{}, authz.Options{})
	engine.Now = func() time.Time { return u.now }
	u.h = &authorizer.Handler{Engine: engine, Routes: routes, Environment: env, Usage: u,
		Log: slog.New(slog.NewJSONHandler(&u.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return u
}

// sample reads a sample event as a JSON object.
func sample(t *testing.T, name string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../events/authorize/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// result is what API Gateway makes of an answer, and the decision's log line.
type result struct {
	status    int
	principal string
	line      map[string]any
}

func (u *unit) handle(t *testing.T, ev map[string]any) result {
	t.Helper()
	raw, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	u.log.Reset()
	out, err := u.h.Handle(context.Background(), raw)
	var r result
	lines := strings.Split(strings.TrimSpace(u.log.String()), "\n")
	if len(lines) != 1 || json.Unmarshal([]byte(lines[0]), &r.line) != nil || r.line["msg"] != "decision" {
		t.Fatalf("want one decision log line, got %q", u.log.String())
	}
	switch {
	case errors.Is(err, authorizer.ErrUnauthorized):
		r.status = 401
		return r
	case errors.Is(err, authorizer.ErrUnavailable):
		r.status = 500
		return r
	case err != nil:
		t.Fatalf("unexpected error %v", err)
	}
	b, _ := json.Marshal(out)
	var m struct {
		IsAuthorized   *bool  `json:"isAuthorized"`
		PrincipalID    string `json:"principalId"`
		PolicyDocument struct {
			Statement []struct{ Effect string }
		} `json:"policyDocument"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	r.principal = m.PrincipalID
	switch {
	case m.IsAuthorized != nil && *m.IsAuthorized, len(m.PolicyDocument.Statement) == 1 && m.PolicyDocument.Statement[0].Effect == "Allow":
		r.status = 200
	case m.IsAuthorized != nil, len(m.PolicyDocument.Statement) == 1 && m.PolicyDocument.Statement[0].Effect == "Deny":
		r.status = 403
		if m.IsAuthorized == nil && m.PrincipalID == "" {
			t.Fatal("a Deny policy without principalId")
		}
	default:
		t.Fatalf("unknown response %s", b)
	}
	return r
}

func (r result) code() string { s, _ := r.line["code"].(string); return s }

// headers of a sample event, with every credential header removed.
func clean(ev map[string]any) map[string]any {
	for _, field := range []string{"headers", "multiValueHeaders"} {
		m, _ := ev[field].(map[string]any)
		for k := range m {
			switch strings.ToLower(k) {
			case "x-api-key", "authorization", "x-client-id", "x-timestamp", "x-nonce", "x-content-sha256", "x-signature":
				delete(m, k)
			}
		}
	}
	return ev
}

// set sets header values the way each format carries them: REST events in
// headers (the last value) and multiValueHeaders (all), under the name as
// given; HTTP API events lower-cased and joined with ",".
func set(ev map[string]any, name string, values ...string) {
	h := ev["headers"].(map[string]any)
	if _, rest := ev["methodArn"]; !rest {
		h[strings.ToLower(name)] = strings.Join(values, ",")
		return
	}
	h[name] = values[len(values)-1]
	mv, _ := ev["multiValueHeaders"].(map[string]any)
	if mv == nil {
		mv = map[string]any{}
		ev["multiValueHeaders"] = mv
	}
	vs := make([]any, len(values))
	for i, v := range values {
		vs[i] = v
	}
	mv[name] = vs
}

func (u *unit) sign(ev map[string]any, iss *key.Issued, path string) {
	query := "currency=eur&expand=customer"
	ts := strconv.FormatInt(u.now.Unix(), 10)
	nonce := signature.NewNonce()
	hash := signature.ContentSHA256(nil)
	sts := signature.StringToSign("POST", path, query, ts, nonce, hash)
	set(ev, "X-Client-Id", iss.Key.ID)
	set(ev, "X-Timestamp", ts)
	set(ev, "X-Nonce", nonce)
	set(ev, "X-Content-SHA256", hash)
	set(ev, "X-Signature", "v1="+signature.Sign(iss.Secret, sts))
}

var unitFormats = []struct{ name, bearer, hmac string }{
	{"rest", "rest-bearer.json", "rest-hmac.json"},
	{"http", "http-bearer.json", "http-hmac.json"},
}

// A request presents exactly one credential; two, or one repeated with
// different values, is 401 MALFORMED before any read, in both formats.
func TestHandleOneCredential(t *testing.T) {
	for _, f := range unitFormats {
		t.Run(f.name, func(t *testing.T) {
			u := newUnit(t, key.EnvTest)
			a, b := u.a.Secret, u.b.Secret
			tests := []struct {
				name   string
				build  func(ev map[string]any)
				status int
				code   string
			}{
				{"X-API-Key alone", func(ev map[string]any) { set(ev, "X-API-Key", b) }, 200, "VALID"},
				{"Authorization: Bearer alone", func(ev map[string]any) { set(ev, "Authorization", "Bearer "+a) }, 200, "VALID"},
				{"X-API-Key repeated with the same value", func(ev map[string]any) { set(ev, "X-API-Key", a, a) }, 200, "VALID"},
				{"B's X-API-Key and A's Bearer", func(ev map[string]any) {
					set(ev, "X-API-Key", b)
					set(ev, "Authorization", "Bearer "+a)
				}, 401, "MALFORMED"},
				{"the same secret in both", func(ev map[string]any) {
					set(ev, "X-API-Key", a)
					set(ev, "Authorization", "Bearer "+a)
				}, 401, "MALFORMED"},
				{"X-API-Key repeated with different values", func(ev map[string]any) { set(ev, "X-API-Key", a, b) }, 401, "MALFORMED"},
				{"Authorization repeated with different values", func(ev map[string]any) {
					set(ev, "Authorization", "Bearer "+a, "Bearer "+b)
				}, 401, "MALFORMED"},
				{"bearer and X-Client-Id", func(ev map[string]any) {
					set(ev, "Authorization", "Bearer "+a)
					set(ev, "X-Client-Id", u.a.Key.ID)
				}, 401, "MALFORMED"},
				{"bearer and X-Signature", func(ev map[string]any) {
					set(ev, "X-API-Key", a)
					set(ev, "X-Signature", "v1=00")
				}, 401, "MALFORMED"},
				{"a valid signature and a bearer secret", func(ev map[string]any) {
					u.sign(ev, u.a, "/demo/charges")
					set(ev, "X-API-Key", b)
				}, 401, "MALFORMED"},
				{"a valid signature with X-Nonce repeated", func(ev map[string]any) {
					u.sign(ev, u.a, "/demo/charges")
					set(ev, "X-Nonce", ev["headers"].(map[string]any)[nonceName(ev)].(string), "another-nonce-0123456789")
				}, 401, "MALFORMED"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					ev := clean(sample(t, f.bearer))
					tt.build(ev)
					reads := u.keyReads.Load()
					r := u.handle(t, ev)
					if r.status != tt.status || r.code() != tt.code {
						t.Fatalf("got %d %s, want %d %s (%v)", r.status, r.code(), tt.status, tt.code, r.line)
					}
					if tt.status == 401 {
						if u.keyReads.Load() != reads {
							t.Error("a request with two credentials read the store")
						}
						if r.line["reason"] == nil {
							t.Error("the log line does not say why")
						}
					}
				})
			}
		})
	}
}

func nonceName(ev map[string]any) string {
	if _, rest := ev["methodArn"]; rest {
		return "X-Nonce"
	}
	return "x-nonce"
}

// REST events may carry one header under two names that differ in case:
// that is two values, so two credentials when they differ.
func TestHandleRESTHeaderNameCases(t *testing.T) {
	u := newUnit(t, key.EnvTest)
	ev := clean(sample(t, "rest-bearer.json"))
	ev["headers"].(map[string]any)["x-api-key"] = u.a.Secret
	ev["headers"].(map[string]any)["X-Api-Key"] = u.b.Secret
	if r := u.handle(t, ev); r.status != 401 || r.code() != "MALFORMED" {
		t.Fatalf("two cases, two secrets: %d %s", r.status, r.code())
	}
	ev["headers"].(map[string]any)["X-Api-Key"] = u.a.Secret
	if r := u.handle(t, ev); r.status != 200 {
		t.Fatalf("two cases, one secret: %d %s", r.status, r.code())
	}
}

// TOKEN and HTTP API payload 1.0 events are refused with 401 and a log line
// naming the format; nothing is read.
func TestHandleUnsupportedEvents(t *testing.T) {
	tests := []struct {
		name, file, format string
		mutate             func(ev map[string]any)
	}{
		{"TOKEN", "rest-token.json", "TOKEN authorizer", nil},
		{"payload 1.0", "http-v1.json", "HTTP API payload format 1.0", nil},
		// A field the REST reading does not expect still leaves the format known.
		{"TOKEN, numeric methodArn", "rest-token.json", "TOKEN authorizer", func(ev map[string]any) { ev["methodArn"] = 5 }},
		{"payload 1.0, numeric header", "http-v1.json", "HTTP API payload format 1.0", func(ev map[string]any) {
			ev["multiValueHeaders"] = map[string]any{"x-n": 1}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, key.EnvTest)
			ev := sample(t, tt.file)
			if tt.mutate != nil {
				tt.mutate(ev)
			}
			// A valid secret in every place these formats carry one.
			s := "Bearer " + u.a.Secret
			ev["authorizationToken"] = s
			if h, ok := ev["headers"].(map[string]any); ok {
				h["authorization"] = s
				ev["identitySource"] = s
			}
			r := u.handle(t, ev)
			if r.status != 401 || r.code() != "UNSUPPORTED_EVENT" || r.line["event_format"] != tt.format {
				t.Fatalf("got %d %v", r.status, r.line)
			}
			if r.line["level"] != "ERROR" || !strings.Contains(r.line["reason"].(string), "not supported") {
				t.Errorf("log line %v", r.line)
			}
			if u.keyReads.Load() != 0 || len(u.recorded) != 0 {
				t.Error("an unsupported event was looked up or counted")
			}
			if strings.Contains(u.log.String(), u.a.Secret) {
				t.Error("the secret was logged")
			}
		})
	}
}

// With no environment from the stage or the function, or one that is not
// test or live, every request is refused (403 ENV_UNKNOWN), valid or not,
// before anything is read.
func TestHandleEnvironmentUnknown(t *testing.T) {
	tests := []struct {
		name     string
		function key.Environment
		stage    any // the stage variable environment; nil: none
		status   int
		code     string
	}{
		{"neither", "", nil, 403, "ENV_UNKNOWN"},
		{"stage variable prod", key.EnvTest, "prod", 403, "ENV_UNKNOWN"},
		{"function's staging", "staging", nil, 403, "ENV_UNKNOWN"},
		{"stage variable alone", "", "test", 200, "VALID"},
		{"function's alone", key.EnvTest, nil, 200, "VALID"},
		{"stage variable live wins", key.EnvTest, "live", 403, "ENV_MISMATCH"},
	}
	for _, f := range unitFormats {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				u := newUnit(t, tt.function)
				ev := clean(sample(t, f.bearer))
				delete(ev, "stageVariables")
				if tt.stage != nil {
					ev["stageVariables"] = map[string]any{"environment": tt.stage}
				}
				set(ev, "X-API-Key", u.a.Secret)
				r := u.handle(t, ev)
				if r.status != tt.status || r.code() != tt.code {
					t.Fatalf("got %d %s, want %d %s", r.status, r.code(), tt.status, tt.code)
				}
				if tt.code != "ENV_UNKNOWN" {
					return
				}
				if u.keyReads.Load() != 0 || len(u.recorded) != 0 {
					t.Error("refused for an unknown environment, yet read or counted")
				}
				if r.line["level"] != "ERROR" || r.line["reason"] == nil {
					t.Errorf("log line %v", r.line)
				}
				if f.name == "rest" && r.principal == "" {
					t.Error("Deny policy without a principal")
				}
				// A garbage credential gets the same answer.
				set(ev, "X-API-Key", "garbage")
				if r := u.handle(t, ev); r.status != 403 || r.code() != "ENV_UNKNOWN" {
					t.Errorf("garbage: %d %s", r.status, r.code())
				}
			})
		}
	}
}

// An HTTP API on a named stage: the stage is cut from the raw path only at
// a segment boundary, and that path is what scopes match and HMAC signs.
func TestHandleStagePath(t *testing.T) {
	tests := []struct {
		name, stage, rawPath, signedPath string
		status                           int
		code                             string
	}{
		{"stage cut", "prod", "/prod/demo/charges", "/demo/charges", 200, "VALID"},
		{"default stage", "$default", "/demo/charges", "/demo/charges", 200, "VALID"},
		{"stage cut, signed with it", "prod", "/prod/demo/charges", "/prod/demo/charges", 401, "SIGNATURE_INVALID"},
		{"stage name is a prefix of a segment", "prod", "/production/demo/charges", "/production/demo/charges", 403, "INSUFFICIENT_SCOPE"},
		{"stage name is a prefix, signed without it", "prod", "/production/demo/charges", "uction/demo/charges", 401, "SIGNATURE_INVALID"},
		{"stage inside the path", "prod", "/demo/prod/charges", "/demo/prod/charges", 200, "VALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, key.EnvTest)
			ev := clean(sample(t, "http-hmac.json"))
			ev["rawPath"] = tt.rawPath
			rc := ev["requestContext"].(map[string]any)
			rc["stage"] = tt.stage
			rc["http"].(map[string]any)["path"] = tt.rawPath
			u.sign(ev, u.a, tt.signedPath)
			r := u.handle(t, ev)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.code(), tt.status, tt.code)
			}
		})
	}
}

// An outage is logged with its own code and the store's name, answered as
// an error (500), and never counted as a denial.
func TestHandleStoreOutage(t *testing.T) {
	outage := errors.New("connection refused")
	tests := []struct {
		name   string
		breaks func(u *unit)
		signed bool
		store  string
	}{
		{"keys, bearer", func(u *unit) { u.keysErr = outage }, false, "keys"},
		{"keys, signed", func(u *unit) { u.keysErr = outage }, true, "keys"},
		{"secrets, signed", func(u *unit) { u.secretsErr = outage }, true, "secrets"},
	}
	for _, f := range unitFormats {
		for _, tt := range tests {
			t.Run(f.name+"/"+tt.name, func(t *testing.T) {
				u := newUnit(t, key.EnvTest)
				tt.breaks(u)
				ev := clean(sample(t, f.hmac))
				if tt.signed {
					u.sign(ev, u.a, "/demo/charges")
				} else {
					set(ev, "X-API-Key", u.a.Secret)
				}
				r := u.handle(t, ev)
				if r.status != 500 || r.code() != "STORE_UNAVAILABLE" || r.line["store"] != tt.store || r.line["level"] != "ERROR" {
					t.Fatalf("got %d %v", r.status, r.line)
				}
				if len(u.recorded) != 0 {
					t.Errorf("an outage was counted: %+v", u.recorded)
				}
			})
		}
	}
}

// An HTTP API passes the authorizer its path decoded, so a client that sent
// (and signed) the path percent-encoded is still proven: the authorizer
// checks the forms a client may have sent the path in. A path encoded some
// other way is not the path signed.
func TestHandleSignedPathAsSent(t *testing.T) {
	decoded := "/demo/café au lait"
	tests := []struct {
		name, signedPath string
		status           int
		code             string
	}{
		{"signed as Go and most clients send it", "/demo/caf%C3%A9%20au%20lait", 200, "VALID"},
		{"signed with lower-case hex", "/demo/caf%c3%a9%20au%20lait", 401, "SIGNATURE_INVALID"},
		{"signed decoded", decoded, 200, "VALID"},
		{"signed as another path", "/demo/caf%C3%A9%20au%20laiT", 401, "SIGNATURE_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := newUnit(t, key.EnvTest)
			ev := clean(sample(t, "http-hmac.json"))
			ev["rawPath"] = decoded
			ev["requestContext"].(map[string]any)["http"].(map[string]any)["path"] = decoded
			u.sign(ev, u.a, tt.signedPath)
			r := u.handle(t, ev)
			if r.status != tt.status || r.code() != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.code(), tt.status, tt.code)
			}
		})
	}
}
