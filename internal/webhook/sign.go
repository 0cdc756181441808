package webhook

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret as shown to users.
const SecretPrefix = "whsec_"

// secretBytes is the length of a new signing secret before encoding.
const secretBytes = 32

// Header names of a signed delivery (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

// UserAgent identifies delivery requests to receivers.
const UserAgent = "paykeys-webhooks/1"

// ErrInvalidSecret is returned by DecodeSecret for a secret that is empty or
// not "whsec_" followed by standard base64.
var ErrInvalidSecret = errors.New("invalid webhook signing secret")

// NewSecret returns a new signing secret: "whsec_" followed by the standard
// base64 encoding of 32 bytes from crypto/rand.
func NewSecret() string {
	b := make([]byte, secretBytes)
	rand.Read(b) // never returns an error; it crashes the program if randomness is unavailable
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}

// DecodeSecret returns the HMAC key of a signing secret: the bytes of its
// base64 part, after an optional "whsec_" prefix. An empty or undecodable
// secret is ErrInvalidSecret; the error never contains the secret.
func DecodeSecret(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, SecretPrefix))
	if err != nil || len(b) == 0 {
		return nil, ErrInvalidSecret
	}
	return b, nil
}

// Sign returns the Standard Webhooks signature of one delivery attempt:
// "v1," followed by the standard base64 HMAC-SHA256, keyed with secret, of
// msgID + "." + the unix seconds of ts + "." + body.
func Sign(secret []byte, msgID string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(msgID))
	mac.Write([]byte{'.'})
	mac.Write(strconv.AppendInt(nil, ts.Unix(), 10))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// SignatureHeader returns the webhook-signature value for an attempt: one
// signature per secret, separated by spaces. During a secret rotation's
// overlap both the new and the old secret are passed, so a receiver holding
// either one can verify.
func SignatureHeader(secrets [][]byte, msgID string, ts time.Time, body []byte) string {
	sigs := make([]string, len(secrets))
	for i, s := range secrets {
		sigs[i] = Sign(s, msgID, ts, body)
	}
	return strings.Join(sigs, " ")
}

// Headers returns the request headers of a delivery attempt: webhook-id,
// webhook-timestamp (unix seconds of ts), webhook-signature (sig, as made by
// SignatureHeader), Content-Type application/json and the User-Agent.
func Headers(msgID string, ts time.Time, sig string) http.Header {
	h := make(http.Header, 5)
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	h.Set("Content-Type", "application/json")
	h.Set("User-Agent", UserAgent)
	return h
}
