//go:build integration

package authorizer_test

import (
	"context"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/usage"
)

// A request presents exactly one credential. Two (even the same secret
// twice), a bearer secret beside signature headers, or one header repeated
// with different values is 401 MALFORMED, and nothing is read.
func TestOneCredentialPerRequest(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			idA, a := e.newKey(key.NewParams{})
			idB, b := e.newKey(key.NewParams{})
			now := e.clock()
			signedA := func() event { return e.event(f.hmac).sign(t, idA, a, now, nil) }
			bearerOnly := func() event {
				ev := e.event(f.bearer)
				ev.setHeader("X-API-Key", "")
				ev.setHeader("Authorization", "")
				return ev
			}
			// An HTTP API joins a repeated X-Signature into one list of
			// signatures, which the header allows; a REST API lists both.
			repeatedSignature := 401
			if !signedA().rest() {
				repeatedSignature = 200
			}
			cases := []struct {
				name   string
				ev     func() event
				status int
				code   key.Code
			}{
				{"B's X-API-Key and A's Bearer", func() event {
					ev := bearerOnly()
					ev.setHeader("X-API-Key", b)
					ev.setHeader("Authorization", "Bearer "+a)
					return ev
				}, 401, key.CodeMalformed},
				{"A's secret in both", func() event {
					ev := bearerOnly()
					ev.setHeader("X-API-Key", a)
					ev.setHeader("Authorization", "Bearer "+a)
					return ev
				}, 401, key.CodeMalformed},
				{"X-API-Key repeated with different values", func() event {
					ev := bearerOnly()
					ev.setHeader("X-API-Key", a)
					ev.addHeader("X-API-Key", b)
					return ev
				}, 401, key.CodeMalformed},
				{"X-API-Key repeated with the same value", func() event {
					ev := bearerOnly()
					ev.setHeader("X-API-Key", a)
					ev.addHeader("X-API-Key", a)
					return ev
				}, 200, key.CodeValid},
				{"Authorization repeated with different values", func() event {
					ev := bearerOnly()
					ev.setHeader("Authorization", "Bearer "+b)
					ev.addHeader("Authorization", "Bearer "+a)
					return ev
				}, 401, key.CodeMalformed},
				{"signed by A, with B's X-API-Key", func() event { ev := signedA(); ev.setHeader("X-API-Key", b); return ev }, 401, key.CodeMalformed},
				{"signed by A, with A's Bearer", func() event { ev := signedA(); ev.setHeader("Authorization", "Bearer "+a); return ev }, 401, key.CodeMalformed},
				{"B's bearer with an X-Nonce", func() event {
					ev := bearerOnly()
					ev.setHeader("X-API-Key", b)
					ev.setHeader("X-Nonce", "nonce-0123456789abcdef")
					return ev
				}, 401, key.CodeMalformed},
				{"signed by A, X-Client-Id repeated with B's", func() event { ev := signedA(); ev.addHeader("X-Client-Id", idB); return ev }, 401, key.CodeMalformed},
				{"signed by A, X-Timestamp repeated", func() event {
					ev := signedA()
					ev.addHeader("X-Timestamp", strconvUnix(now.Add(time.Second)))
					return ev
				}, 401, key.CodeMalformed},
				{"signed by A, X-Signature repeated", func() event {
					ev := signedA()
					ev.addHeader("X-Signature", "v1="+strings.Repeat("ab", 32))
					return ev
				}, repeatedSignature, map[int]key.Code{401: key.CodeMalformed, 200: key.CodeValid}[repeatedSignature]},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					ev := c.ev()
					reads := e.ddb.Calls("GetItem")
					o := e.authorize(ev)
					if o.Status != c.status || o.Code != c.code {
						t.Fatalf("got %d %s (%v), want %d %s", o.Status, o.Code, o.Context, c.status, c.code)
					}
					if c.status == 401 && e.ddb.Calls("GetItem") != reads {
						t.Error("a request with two credentials read the store")
					}
				})
			}
		})
	}
	// A REST event keeps header names as sent: two spellings are two headers.
	t.Run("rest, two spellings of X-API-Key", func(t *testing.T) {
		e := newEnv(t, authz.Options{})
		_, a := e.newKey(key.NewParams{})
		_, b := e.newKey(key.NewParams{})
		ev := e.event("rest-bearer.json")
		ev.setHeader("X-API-Key", "")
		ev.headers()["x-api-key"] = a
		ev.headers()["X-Api-Key"] = b
		if o := e.authorize(ev); o.Status != 401 || o.Code != key.CodeMalformed {
			t.Fatalf("got %d %s", o.Status, o.Code)
		}
	})
}

// The API's environment has no default: without the stage variable and the
// function's ENVIRONMENT, or with a stage variable that is neither test nor
// live, every request is refused (403 ENV_UNKNOWN) before anything is read.
func TestEnvironmentFailsClosed(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			id, sk := e.newKey(key.NewParams{})
			cases := []struct {
				name     string
				function key.Environment
				stage    string // "": no stage variable
				ev       func() event
				status   int
				code     key.Code
			}{
				{"neither, bearer", "", "", func() event { return e.event(f.bearer).bearer(sk) }, 403, CodeEnvUnknown},
				{"neither, signed", "", "", func() event { return e.event(f.hmac).sign(t, id, sk, e.clock(), nil) }, 403, CodeEnvUnknown},
				{"neither, no credential", "", "", func() event { return e.event(f.bearer).bearer("") }, 403, CodeEnvUnknown},
				{"stage variable prod", key.EnvTest, "prod", func() event { return e.event(f.bearer).bearer(sk) }, 403, CodeEnvUnknown},
				{"stage variable test alone", "", "test", func() event { return e.event(f.bearer).bearer(sk) }, 200, key.CodeValid},
				{"function's test alone", key.EnvTest, "", func() event { return e.event(f.bearer).bearer(sk) }, 200, key.CodeValid},
				{"stage variable live over function's test", key.EnvTest, "live", func() event { return e.event(f.bearer).bearer(sk) }, 403, key.CodeEnvMismatch},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					e.h.Environment = c.function
					ev := c.ev()
					delete(ev, "stageVariables")
					if c.stage != "" {
						ev["stageVariables"] = map[string]any{"environment": c.stage}
					}
					reads := e.ddb.Calls("GetItem") + e.sm.Calls("GetSecretValue") + e.ddb.Calls("PutItem")
					o := e.authorize(ev)
					if o.Status != c.status || o.Code != c.code {
						t.Fatalf("got %d %s, want %d %s", o.Status, o.Code, c.status, c.code)
					}
					if c.code == CodeEnvUnknown && e.ddb.Calls("GetItem")+e.sm.Calls("GetSecretValue")+e.ddb.Calls("PutItem") != reads {
						t.Error("refused for an unknown environment, yet the stores were called")
					}
				})
			}
		})
	}
}

// CodeEnvUnknown, spelled out so the test fails if the code changes.
const CodeEnvUnknown key.Code = "ENV_UNKNOWN"

// On an HTTP API's named stage, the stage is cut from the path only at a
// segment boundary; the path left is what route scopes match and HMAC signs.
func TestStagePrefixAtSegmentBoundary(t *testing.T) {
	e := newEnv(t, authz.Options{})
	id, sk := e.newKey(key.NewParams{})
	on := func(stage, rawPath string) event {
		ev := e.event("http-hmac.json")
		ev["rawPath"] = rawPath
		rc := ev["requestContext"].(map[string]any)
		rc["stage"] = stage
		rc["http"].(map[string]any)["path"] = rawPath
		return ev
	}
	// signedOver signs ev as a client that computed its path as path.
	signedOver := func(ev event, path string) event {
		raw := ev["rawPath"]
		ev["rawPath"] = path
		ev.sign(t, id, sk, e.clock(), nil)
		ev["rawPath"] = raw
		return ev
	}
	cases := []struct {
		name   string
		ev     func() event
		status int
		code   key.Code
	}{
		{"/prod/demo/charges on prod, signed without the stage", func() event {
			return signedOver(on("prod", "/prod/demo/charges"), "/demo/charges")
		}, 200, key.CodeValid},
		{"/prod/demo/charges on prod, signed with the stage", func() event {
			return signedOver(on("prod", "/prod/demo/charges"), "/prod/demo/charges")
		}, 401, key.CodeSignatureInvalid},
		{"/production/demo/charges on prod, signed as sent", func() event {
			return signedOver(on("prod", "/production/demo/charges"), "/production/demo/charges")
		}, 403, key.CodeInsufficientScope}, // proven, but no route: the path was kept whole
		{"/production/demo/charges on prod, signed with a cut path", func() event {
			return signedOver(on("prod", "/production/demo/charges"), "uction/demo/charges")
		}, 401, key.CodeSignatureInvalid},
		{"/production/demo/charges on prod, bearer", func() event {
			ev := on("prod", "/production/demo/charges")
			for _, h := range []string{"X-Client-Id", "X-Timestamp", "X-Nonce", "X-Content-SHA256", "X-Signature"} {
				ev.setHeader(h, "")
			}
			return ev.bearer(sk)
		}, 403, key.CodeInsufficientScope},
		{"/prod on prod is the root", func() event {
			return signedOver(on("prod", "/prod"), "/")
		}, 403, key.CodeInsufficientScope},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if o := e.authorize(c.ev()); o.Status != c.status || o.Code != c.code {
				t.Fatalf("got %d %s, want %d %s", o.Status, o.Code, c.status, c.code)
			}
		})
	}
}

// TOKEN authorizer events and HTTP API payload 1.0 events are refused (401)
// with a log line naming the format, whatever they carry.
func TestUnsupportedEventFormats(t *testing.T) {
	e := newEnv(t, authz.Options{})
	_, sk := e.newKey(key.NewParams{})
	for _, c := range []struct{ file, format string }{
		{"rest-token.json", "TOKEN authorizer"},
		{"http-v1.json", "HTTP API payload format 1.0"},
	} {
		t.Run(c.file, func(t *testing.T) {
			ev := e.event(c.file)
			ev["authorizationToken"] = "Bearer " + sk
			if _, ok := ev["headers"]; ok {
				ev.setHeader("authorization", "Bearer "+sk)
				ev["identitySource"] = "Bearer " + sk
			}
			before := len(e.logs.String())
			reads := e.ddb.Calls("GetItem")
			o := e.authorize(ev)
			if o.Status != 401 || o.Code != "UNSUPPORTED_EVENT" {
				t.Fatalf("got %d %s, want 401 UNSUPPORTED_EVENT", o.Status, o.Code)
			}
			if !strings.Contains(e.logs.String()[before:], `"event_format":"`+c.format+`"`) {
				t.Errorf("the log does not name %s: %s", c.format, e.logs.String()[before:])
			}
			if e.ddb.Calls("GetItem") != reads {
				t.Error("an unsupported event was looked up")
			}
		})
	}
}

// Outages have their own log code, are answered with an error (500), and
// are not counted as denials: a Secrets Manager outage while proving a
// signature is not a SIGNATURE_INVALID.
func TestOutagesHaveTheirOwnCode(t *testing.T) {
	for _, f := range formats {
		t.Run(f.name, func(t *testing.T) {
			e := newEnv(t, authz.Options{})
			rec := usage.New(e.store, usage.Options{FlushInterval: time.Hour, Log: e.h.Log})
			t.Cleanup(func() { _ = rec.Close(context.Background()) })
			e.h.Usage = rec
			id, sk := e.newKey(key.NewParams{})
			cases := []struct {
				name  string
				fail  func()
				ev    func() event
				store string
			}{
				{"DynamoDB down, bearer", func() { e.ddb.FailAll("GetItem") }, func() event { return e.event(f.bearer).bearer(sk) }, "keys"},
				{"DynamoDB down, signed", func() { e.ddb.FailAll("GetItem") }, func() event { return e.event(f.hmac).sign(t, id, sk, e.clock(), nil) }, "keys"},
				{"Secrets Manager down, signed", func() { e.sm.FailAll("GetSecretValue") }, func() event { return e.event(f.hmac).sign(t, id, sk, e.clock(), nil) }, "secrets"},
				{"nonce write failing, signed", func() { e.ddb.FailAll("PutItem") }, func() event { return e.event(f.hmac).sign(t, id, sk, e.clock(), nil) }, "nonces"},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					// A fresh engine each time: nothing cached hides the outage.
					e.h.Engine = authz.New(e.store, e.secrets, e.store, authz.Options{})
					e.h.Engine.Now = e.clock
					c.fail()
					defer e.ddb.Reset()
					defer e.sm.Reset()
					before := len(e.logs.String())
					o := e.authorize(c.ev())
					if o.Status != 500 || o.Code != authz.CodeStoreUnavailable {
						t.Fatalf("got %d %s, want 500 %s", o.Status, o.Code, authz.CodeStoreUnavailable)
					}
					var line map[string]any
					for _, l := range strings.Split(strings.TrimSpace(e.logs.String()[before:]), "\n") {
						if json.Unmarshal([]byte(l), &line) == nil && line["msg"] == "decision" {
							break
						}
					}
					if line["store"] != c.store || line["level"] != "ERROR" {
						t.Errorf("log line %v, want store %s at ERROR", line, c.store)
					}
				})
			}
			// One real bad signature, counted; the outages are not.
			e.h.Engine = authz.New(e.store, e.secrets, e.store, authz.Options{})
			e.h.Engine.Now = e.clock
			if o := e.authorize(e.event(f.hmac).sign(t, id, key.DefaultBrand.NewSecret(id), e.clock(), nil)); o.Code != key.CodeSignatureInvalid {
				t.Fatalf("bad signature: %s", o.Code)
			}
			if err := rec.Flush(context.Background()); err != nil {
				t.Fatal(err)
			}
			day := e.clock().UTC().Format(store.DateLayout)
			days, err := e.store.ListUsage(context.Background(), id, day, day)
			if err != nil {
				t.Fatal(err)
			}
			if len(days) != 1 || days[0].Allowed != 0 || !maps.Equal(days[0].Denied, map[string]int64{"SIGNATURE_INVALID": 1}) {
				t.Fatalf("usage = %+v, want only the one SIGNATURE_INVALID", days)
			}
		})
	}
}
