// Command goclient signs requests per RFC 9421 with nothing but Go's standard
// library (crypto/ed25519, crypto/ecdsa, net/http; none of this project's
// packages) and sends them through the local gateway's /demo API: allowed
// when intact, refused when tampered with. Usage: goclient BASE_URL, with the
// management token in PAYKEYS_TOKEN (infra/httpsig/run.sh).
package main

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

type client struct {
	base, token string
	failures    int
}

func (c *client) manage(method, path string, body any) (int, map[string]any) {
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("httpsig-go: FAIL", err)
		os.Exit(1)
	}
	defer res.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// sign builds the RFC 9421 signature base by hand: @method, @authority,
// @path, @query and, with a body, content-digest (RFC 9530, sha-512).
func sign(req *http.Request, body []byte, keyID string, priv crypto.Signer, created int64) {
	nonceBytes := make([]byte, 18)
	_, _ = rand.Read(nonceBytes)
	nonce := base64.RawURLEncoding.EncodeToString(nonceBytes)
	alg := "ed25519"
	if _, ok := priv.(*ecdsa.PrivateKey); ok {
		alg = "ecdsa-p256-sha256"
	}
	components := `"@method" "@authority" "@path" "@query"`
	lines := []string{
		`"@method": ` + req.Method,
		`"@authority": ` + req.URL.Host,
		`"@path": ` + req.URL.EscapedPath(),
		`"@query": ?` + req.URL.RawQuery,
	}
	if len(body) > 0 {
		sum := sha512Sum(body)
		req.Header.Set("Content-Digest", "sha-512=:"+base64.StdEncoding.EncodeToString(sum)+":")
		components += ` "content-digest"`
		lines = append(lines, `"content-digest": `+req.Header.Get("Content-Digest"))
	}
	params := "(" + components + ");created=" + strconv.FormatInt(created, 10) +
		`;keyid="` + keyID + `";nonce="` + nonce + `";alg="` + alg + `"`
	base := strings.Join(append(lines, `"@signature-params": `+params), "\n")
	var sig []byte
	switch k := priv.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, []byte(base))
	case *ecdsa.PrivateKey:
		h := sha256.Sum256([]byte(base))
		r, s, err := ecdsa.Sign(rand.Reader, k, h[:])
		if err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	}
	req.Header.Set("Signature-Input", "req="+params)
	req.Header.Set("Signature", "req=:"+base64.StdEncoding.EncodeToString(sig)+":")
}

func (c *client) send(method, path string, body []byte, keyID string, priv crypto.Signer, skew time.Duration, tamper func(*http.Request)) (int, string) {
	req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	sign(req, body, keyID, priv, time.Now().Add(skew).Unix())
	if tamper != nil {
		tamper(req)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println("httpsig-go: FAIL", err)
		os.Exit(1)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func (c *client) expect(what string, got, want int, detail string) {
	if got == want {
		fmt.Printf("httpsig-go: ok   %s: %d\n", what, got)
		return
	}
	c.failures++
	fmt.Printf("httpsig-go: FAIL %s: %d, want %d %.300s\n", what, got, want, detail)
}

func main() {
	c := &client{base: strings.TrimRight(os.Args[1], "/"), token: os.Getenv("PAYKEYS_TOKEN")}
	status, k := c.manage("POST", "/v1/keys", map[string]any{
		"name": "go rfc 9421 client", "environment": "test",
		"scopes": []string{"payments:read", "payments:write"}, "auth_modes": []string{"signature", "bearer"},
	})
	c.expect("create a key that may sign", status, 201, fmt.Sprint(k))
	kid := k["key"].(map[string]any)["id"].(string)

	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ids := map[string]string{}
	for alg, pub := range map[string]crypto.PublicKey{"ed25519": edPriv.Public(), "ecdsa-p256-sha256": ecPriv.Public()} {
		der, _ := x509.MarshalPKIXPublicKey(pub)
		pemText := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
		status, pk := c.manage("POST", "/v1/keys/"+url.PathEscape(kid)+"/public-keys", map[string]any{"alg": alg, "public_key": pemText})
		c.expect("register "+alg, status, 201, fmt.Sprint(pk))
		ids[alg], _ = pk["id"].(string)
	}
	body := []byte(`{"amount":1000,"currency":"EUR"}`)
	for alg, priv := range map[string]crypto.Signer{"ed25519": edPriv, "ecdsa-p256-sha256": ecPriv} {
		id := ids[alg]
		st, text := c.send("POST", "/demo/charges?b=2&a=1", body, id, priv, 0, nil)
		c.expect(alg+": signed POST", st, 200, text)
		st, text = c.send("GET", "/demo/charges", nil, id, priv, 0, nil)
		c.expect(alg+": signed GET", st, 200, text)
		st, text = c.send("GET", "/demo/charges?a=1", nil, id, priv, 0, func(r *http.Request) { r.URL.RawQuery = "a=2" })
		c.expect(alg+": tampered query", st, 401, text)
		st, text = c.send("GET", "/demo/charges", nil, id, priv, -400*time.Second, nil)
		c.expect(alg+": created 400 s ago", st, 401, text)
		st, text = c.send("POST", "/demo/charges", body, id, priv, 0, func(r *http.Request) {
			r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), ` "content-digest"`, "", 1))
		})
		c.expect(alg+": a body without content-digest covered", st, 401, text)
		st, text = c.send("POST", "/demo/charges", body, id, priv, 0, func(r *http.Request) { r.Header.Set("X-API-Key", "paykeys_sk_test_x") })
		c.expect(alg+": signature beside a bearer secret", st, 401, text)
	}
	// Signature mode taken away: a proven signature is 403.
	status, _ = c.manage("PATCH", "/v1/keys/"+url.PathEscape(kid), map[string]any{"auth_modes": []string{"bearer"}})
	c.expect("patch auth_modes to bearer", status, 200, "")
	deadline := time.Now().Add(3 * time.Second)
	for {
		st, text := c.send("GET", "/demo/charges", nil, ids["ed25519"], edPriv, 0, nil)
		if st == 403 || time.Now().After(deadline) {
			c.expect("a signature when the mode is not allowed", st, 403, text)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if c.failures > 0 {
		fmt.Printf("httpsig-go: %d failed\n", c.failures)
		os.Exit(1)
	}
	fmt.Println("httpsig-go: all passed")
}

func sha512Sum(b []byte) []byte {
	h := crypto.SHA512.New()
	h.Write(b)
	return h.Sum(nil)
}
