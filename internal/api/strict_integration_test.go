//go:build integration

package api_test

import (
	"strings"
	"testing"
)

// Every management body has one reading: on every route with a body, a
// field name in the wrong case, a field given twice, invalid UTF-8 (raw or
// as an escaped lone surrogate), an unknown field and a wrong type are 400,
// while the same body done right is accepted.
func TestEveryBodyIsStrict(t *testing.T) {
	e := newHookEnv(t, true)
	rcv := newReceiver(t, func(int) int { return 204 })
	k := e.create(`{"name":"strict","environment":"test","scopes":["payments:read"]}`)
	ep := e.do(req{route: "POST /v1/webhooks", body: `{"url":"` + rcv.URL + `/h"}`})
	if ep.Status != 201 {
		t.Fatalf("create endpoint: %d %s", ep.Status, ep.Body)
	}
	epID := ep.json(t)["endpoint"].(map[string]any)["id"].(string)

	type route struct {
		route, id string
		good      string // a body that is accepted (2xx)
		field     string // a documented string field
		value     string // a valid JSON value for it
		intField  string // a documented number field, if any
	}
	routes := []route{
		{"POST /v1/keys", "", `{"name":"n","environment":"test"}`, "name", `"n"`, "rotation_days"},
		{"PATCH /v1/keys/{id}", k.ID, `{"name":"m"}`, "name", `"m"`, "rotation_days"},
		{"POST /v1/keys/{id}/reset", k.ID, `{"grace_period_seconds":0}`, "", "", "grace_period_seconds"},
		{"POST /v1/keys/{id}/verify", k.ID, `{"secret":"x"}`, "secret", `"x"`, ""},
		{"POST /v1/verify", "", `{"secret":"x"}`, "secret", `"x"`, ""},
		{"POST /v1/webhooks", "", `{"url":"` + rcv.URL + `/g","description":"d"}`, "description", `"d"`, ""},
		{"PATCH /v1/webhooks/{id}", epID, `{"description":"d"}`, "description", `"d"`, ""},
		{"POST /v1/webhooks/{id}/rotate-secret", epID, `{"overlap_seconds":0}`, "", "", "overlap_seconds"},
	}
	for _, r := range routes {
		bad := map[string]string{
			"unknown field":          `{"colour":"red"}`,
			"not an object":          `["x"]`,
			"trailing data":          r.good + `{}`,
			"raw invalid UTF-8":      strings.Replace(r.good, `}`, `,"x":"\xff"}`, 1),
			"escaped lone surrogate": `{"` + firstField(r.good) + `":"\udc00"}`,
		}
		if r.field != "" {
			bad["name in another case"] = strings.Replace(r.good, `{`, `{"`+strings.ToUpper(r.field[:1])+r.field[1:]+`":`+r.value+`,`, 1)
			bad["field given twice"] = strings.Replace(r.good, `{`, `{"`+r.field+`":`+r.value+`,`, 1)
			bad["field twice, only the case differs"] = strings.Replace(r.good, `{`, `{"`+strings.ToUpper(r.field)+`":`+r.value+`,`, 1)
			bad["wrong type"] = `{"` + r.field + `":5}`
		}
		if r.intField != "" {
			bad["number as a string"] = `{"` + r.intField + `":"0"}`
			bad["number twice"] = `{"` + r.intField + `":0,"` + r.intField + `":0}`
			bad["fraction"] = `{"` + r.intField + `":0.5}`
		}
		for name, body := range bad {
			t.Run(r.route+"/"+name, func(t *testing.T) {
				resp := e.call(req{route: r.route, id: r.id, body: body})
				if resp.Status != 400 || resp.errCode(t) != "invalid_request" {
					t.Fatalf("%s: %d %s, want 400", body, resp.Status, resp.Body)
				}
			})
		}
		t.Run(r.route+"/good", func(t *testing.T) {
			if resp := e.call(req{route: r.route, id: r.id, body: r.good}); resp.Status >= 300 {
				t.Fatalf("%s: %d %s", r.good, resp.Status, resp.Body)
			}
		})
	}
}

// call is do for every route, /v1/verify included: that route has no golden
// event of its own, so it reuses per-key verify's with its own route key.
func (e *hookEnv) call(r req) response {
	e.t.Helper()
	if r.route != "POST /v1/verify" {
		return e.do(r)
	}
	ev := e.event(req{route: "POST /v1/keys/{id}/verify", body: r.body})
	ev.RouteKey, ev.RawPath, ev.PathParameters = "POST /v1/verify", "/v1/verify", nil
	ev.RequestContext.Authorizer = nil
	resp, err := e.invoke("verify", ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
}

func firstField(body string) string {
	name, _, _ := strings.Cut(strings.TrimPrefix(body, `{"`), `"`)
	return name
}
