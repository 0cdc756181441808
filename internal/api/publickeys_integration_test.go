//go:build integration

package api_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

func init() {
	for route, event := range map[string]string{
		"POST /v1/keys/{id}/public-keys":           "keys/public-key-create.json",
		"GET /v1/keys/{id}/public-keys":            "keys/public-key-list.json",
		"DELETE /v1/keys/{id}/public-keys/{pk_id}": "keys/public-key-delete.json",
	} {
		functionOf[route] = "keys"
		golden[route] = event
	}
}

const rfcEd25519PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=\n-----END PUBLIC KEY-----\n"

func (e *env) deletePublicKey(id, pkID string, opts ...func(*req)) response {
	e.t.Helper()
	r := req{route: "DELETE /v1/keys/{id}/public-keys/{pk_id}", id: id}
	for _, o := range opts {
		o(&r)
	}
	ev := e.event(r)
	ev.PathParameters["pk_id"] = pkID
	resp, err := e.invoke("keys", ev)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Headers: resp.Headers, Body: resp.Body}
}

func role(r string) func(*req) { return func(q *req) { q.role = r } }

func TestPublicKeys(t *testing.T) {
	e := newEnv(t)
	c := e.create(`{"name":"signer","environment":"test","auth_modes":["signature"]}`)
	if modes := c.Key["auth_modes"].([]any); len(modes) != 1 || modes[0] != "signature" {
		t.Fatalf("auth_modes = %v", modes)
	}
	post := func(body string, opts ...func(*req)) response {
		r := req{route: "POST /v1/keys/{id}/public-keys", id: c.ID, body: body}
		for _, o := range opts {
			o(&r)
		}
		return e.do(r)
	}
	pemBody, _ := json.Marshal(map[string]string{"alg": "ed25519", "public_key": rfcEd25519PEM})

	// Roles as for other key management: a developer may list, not register.
	if r := post(string(pemBody), role("developer")); r.Status != 403 {
		t.Fatalf("developer registers: %d %s", r.Status, r.Body)
	}
	first := post(string(pemBody))
	if first.Status != 201 {
		t.Fatalf("register: %d %s", first.Status, first.Body)
	}
	pk := first.json(t)
	id := pk["id"].(string)
	jwk := pk["jwk"].(map[string]any)
	if !strings.HasPrefix(id, "pk_test_") || jwk["kty"] != "OKP" || jwk["x"] != "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs" ||
		pk["thumbprint"] != "poqkLGiymh_W0uP6PZFw-dvez3QJT5SolqXBCW38r0U" {
		t.Fatalf("registered %v", pk)
	}

	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	raw, _ := ec.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	jwkBody := `{"alg":"ecdsa-p256-sha256","jwk":{"kty":"EC","crv":"P-256","x":"` + enc(raw[1:33]) + `","y":"` + enc(raw[33:]) + `","kid":"mine","use":"sig"}}`
	second := post(jwkBody)
	if second.Status != 201 {
		t.Fatalf("register a JWK: %d %s", second.Status, second.Body)
	}
	for name, c := range map[string]struct {
		body string
		want int
	}{
		"a third":            {`{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}}`, 409},
		"both forms":         {`{"alg":"ed25519","public_key":"x","jwk":{"kty":"OKP","crv":"Ed25519","x":"x"}}`, 400},
		"neither":            {`{"alg":"ed25519"}`, 400},
		"unknown alg":        {`{"alg":"rsa-pss-sha512","public_key":"x"}`, 400},
		"private JWK member": {`{"alg":"ed25519","jwk":{"kty":"OKP","crv":"Ed25519","x":"x","d":"y"}}`, 400},
		"alg of another key": {`{"alg":"ecdsa-p256-sha256","public_key":` + string(must(json.Marshal(rfcEd25519PEM))) + `}`, 400},
	} {
		if r := post(c.body); r.Status != c.want {
			t.Errorf("%s: %d %s, want %d", name, r.Status, r.Body, c.want)
		}
	}

	list := e.do(req{route: "GET /v1/keys/{id}/public-keys", id: c.ID, role: "viewer"})
	data := list.json(t)["data"].([]any)
	if list.Status != 200 || len(data) != 2 || data[0].(map[string]any)["id"] != second.json(t)["id"] {
		t.Fatalf("list (newest first): %d %s", list.Status, list.Body)
	}
	if r := e.do(req{route: "GET /v1/keys/{id}/public-keys", id: c.ID, merchant: "m_other"}); r.Status != 404 {
		t.Fatalf("another merchant lists: %d", r.Status)
	}
	if r := e.deletePublicKey(c.ID, id, merchant("m_other")); r.Status != 404 {
		t.Fatalf("another merchant deletes: %d", r.Status)
	}
	if r := e.deletePublicKey(c.ID, id, role("developer")); r.Status != 403 {
		t.Fatalf("developer deletes: %d", r.Status)
	}
	if r := e.deletePublicKey(c.ID, id); r.Status != 204 {
		t.Fatalf("delete: %d %s", r.Status, r.Body)
	}
	if r := e.deletePublicKey(c.ID, id); r.Status != 404 {
		t.Fatalf("delete again: %d %s", r.Status, r.Body)
	}
	// Room for a new one once one is gone (rotation).
	if r := post(string(pemBody)); r.Status != 201 {
		t.Fatalf("register after a delete: %d %s", r.Status, r.Body)
	}

	audit := e.do(req{route: "GET /v1/audit"})
	counts := map[string]int{}
	for _, r := range audit.json(t)["data"].([]any) {
		rec := r.(map[string]any)
		if rec["resource_id"] == c.ID && rec["outcome"] == "success" && strings.HasPrefix(rec["action"].(string), "key.public_key") {
			counts[rec["action"].(string)]++
		}
	}
	if counts["key.public_key_add"] != 3 || counts["key.public_key_delete"] != 1 {
		t.Fatalf("audit records of public key changes: %v", counts)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
