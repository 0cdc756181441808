package main

import (
	"testing"
)

// make dev serves POST /v1/leaks as template.yaml declares it: to the keys
// function, with no token, the signature headers and raw body passed on.
func TestLeakRouteNeedsNoToken(t *testing.T) {
	routes, _, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tg := newTestGateway(t, routes, &Backend{})
	body := `[{"token":"x","type":"t","url":"u","source":"content"}]`
	res, _ := tg.do(t, reqSpec{method: "POST", path: "/v1/leaks", body: []byte(body), headers: map[string]string{
		"Content-Type": "application/json", "Github-Public-Key-Identifier": "k1", "Github-Public-Key-Signature": "MEQ=",
	}})
	if res.StatusCode != 200 {
		t.Fatalf("status = %d, want the function's 200", res.StatusCode)
	}
	name, ev := tg.rec.last(t)
	if name != "keys" || ev.RouteKey != "POST /v1/leaks" || ev.Body != body || ev.IsBase64Encoded ||
		ev.Headers["github-public-key-identifier"] != "k1" || ev.Headers["github-public-key-signature"] != "MEQ=" {
		t.Errorf("called %s with %s, body %q, headers %v", name, ev.RouteKey, ev.Body, ev.Headers)
	}
	if ev.RequestContext.Authorizer != nil && ev.RequestContext.Authorizer.JWT != nil {
		t.Errorf("the leak route carried a JWT authorizer context: %+v", ev.RequestContext.Authorizer)
	}
}
