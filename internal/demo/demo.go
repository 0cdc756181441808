// Package demo is the example payment backend behind the authorizer. It shows
// what a real backend must do: read the authorizer's context, and for signed
// requests check X-Content-SHA256 or Content-Digest against the body it received, because the
// authorizer never sees the body.
package demo

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// checkBody compares a signed request's body with the hash the signature
// covered: X-Content-SHA256 for HMAC, Content-Digest (RFC 9530) for an RFC
// 9421 signature. A body with no Content-Digest cannot have been signed.
func checkBody(mode string, req apigw.Request) error {
	if mode != string(key.ModeHMAC) && mode != string(key.ModeSignature) {
		return nil
	}
	body, err := apigw.Body(req)
	if err != nil {
		return err
	}
	if mode == string(key.ModeHMAC) {
		sent := req.Headers["x-content-sha256"]
		if subtle.ConstantTimeCompare([]byte(sent), []byte(signature.ContentSHA256(body))) != 1 {
			return key.Invalid("X-Content-SHA256 does not match the request body")
		}
		return nil
	}
	digest, ok := req.Headers["content-digest"]
	switch {
	case !ok && len(body) == 0:
		return nil
	case !ok || signature.CheckContentDigest(digest, body) != nil:
		return key.Invalid("Content-Digest does not match the request body")
	}
	return nil
}

type echo struct {
	PrincipalID string            `json:"principal_id"`
	Context     map[string]string `json:"context"`
}

// Handler is the demo backend.
type Handler struct{ Log *slog.Logger }

// Handle answers 200 with the authorizer context, or 400 when a signed
// request's body does not match its content hash.
func (h Handler) Handle(ctx context.Context, req apigw.Request) (apigw.Response, error) {
	c := map[string]string{}
	if a := req.RequestContext.Authorizer; a != nil {
		for k, v := range a.Lambda {
			c[k] = fmt.Sprint(v)
		}
	}
	if c["key_id"] == "" {
		// Only reachable when deployed without the authorizer: fail closed.
		return apigw.Error(ctx, h.Log, req.RequestContext.RequestID, apigw.ErrUnauthenticated), nil
	}
	if err := checkBody(c["auth_mode"], req); err != nil {
		return apigw.Error(ctx, h.Log, req.RequestContext.RequestID, err), nil
	}
	return apigw.JSON(200, echo{PrincipalID: c["key_id"], Context: c}), nil
}
