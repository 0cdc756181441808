package signature_test

import (
	"bytes"
	"fmt"
	"net/http"
	"time"

	"github.com/paykeys/paykeys/internal/signature"
)

// A client signs each request just before sending it. The body passed to
// SignRequest must be the exact bytes sent.
func ExampleSignRequest() {
	const (
		clientID = "ck_live_4cQ1ffXG1nXKuU2B0x6ZgA"
		secret   = "sk_live_..." // from the key's create or reset response
	)
	body := []byte(`{"amount":1000,"currency":"EUR"}`)
	req, err := http.NewRequest(http.MethodPost, "https://pay.example.com/v1/payments?capture=true", bytes.NewReader(body))
	if err != nil {
		panic(err)
	}
	if err := signature.SignRequest(req, clientID, secret, body, time.Now()); err != nil {
		panic(err)
	}
	// req is ready for http.DefaultClient.Do(req).

	for _, name := range []string{
		signature.HeaderClientID, signature.HeaderTimestamp, signature.HeaderNonce,
		signature.HeaderContentSHA256, signature.HeaderSignature,
	} {
		fmt.Printf("%s: %d bytes\n", name, len(req.Header.Get(name)))
	}
	// Output:
	// X-Client-Id: 30 bytes
	// X-Timestamp: 10 bytes
	// X-Nonce: 24 bytes
	// X-Content-SHA256: 64 bytes
	// X-Signature: 67 bytes
}

// The same signature step by step, with a fixed time and nonce, as a client
// in another language would compute it.
func ExampleSign() {
	const secret = "sk_test_4cQ1ffXG1nXKuU2B0x6ZgAbCdEfGhIjKlMnOpQrStUvWxY000000"
	query, err := signature.CanonicalQueryRaw("limit=10&currency=EUR")
	if err != nil {
		panic(err)
	}
	sts := signature.StringToSign("GET", "/v1/payments", query,
		"1795420800", "8zq0Jd4uYp2LmXkV_a-9RtQe", signature.ContentSHA256(nil))
	fmt.Printf("%q\n", sts)
	fmt.Println(signature.HeaderSignature + ": v1=" + signature.Sign(secret, sts))
	// Output:
	// "v1\nGET\n/v1/payments\ncurrency=EUR&limit=10\n1795420800\n8zq0Jd4uYp2LmXkV_a-9RtQe\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	// X-Signature: v1=656790f8a2a55f26b3136e9cef66aeb47098aaa21c8bbab854ed17608bd89270
}

// The authorizer's side: parse, check the clock, verify against the key's
// current secret (and, during a grace period, its previous one), and only
// then record the nonce.
func ExampleParsed_Verify() {
	h := signature.Headers{
		ClientID:      "ck_test_4cQ1ffXG1nXKuU2B0x6ZgA",
		Timestamp:     "1795420800",
		Nonce:         "8zq0Jd4uYp2LmXkV_a-9RtQe",
		ContentSHA256: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		Signature:     "v1=656790f8a2a55f26b3136e9cef66aeb47098aaa21c8bbab854ed17608bd89270",
	}
	p, err := signature.Parse(h)
	if err != nil {
		fmt.Println("401:", err)
		return
	}
	query, err := signature.CanonicalQueryRaw("limit=10&currency=EUR")
	if err != nil {
		fmt.Println("401:", err)
		return
	}
	sts := signature.StringToSign("GET", "/v1/payments", query, p.TimestampRaw, p.Nonce, p.ContentSHA256)
	now := time.Unix(1795420800+120, 0)
	current := []byte("sk_test_4cQ1ffXG1nXKuU2B0x6ZgAbCdEfGhIjKlMnOpQrStUvWxY000000")
	fmt.Println("in window:", p.InWindow(now))
	fmt.Println("verified:", p.Verify(current, sts))
	// Output:
	// in window: true
	// verified: true
}
