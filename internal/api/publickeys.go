package api

import (
	"context"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
)

// jwkBody is a public JWK as a caller sends it: the members that name the
// key, and those RFC 7517 lets a public JWK carry beside them. A private
// member ("d") is an unknown field, so a private key is refused.
type jwkBody struct {
	Kty    string   `json:"kty"`
	Crv    string   `json:"crv"`
	X      string   `json:"x"`
	Y      *string  `json:"y"`
	Kid    *string  `json:"kid"`
	Use    *string  `json:"use"`
	Alg    *string  `json:"alg"`
	KeyOps []string `json:"key_ops"`
}

type publicKeyBody struct {
	Alg       *string  `json:"alg"`
	PublicKey *string  `json:"public_key"`
	JWK       *jwkBody `json:"jwk"`
}

type publicKeyList struct {
	Data []key.PublicKeyView `json:"data"`
}

func (h *API) publicKeyCreate(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b publicKeyBody
	if _, err := apigw.Decode(req, &b, false); err != nil {
		return apigw.Response{}, err
	}
	if b.Alg == nil {
		return apigw.Response{}, key.Invalid("alg is required")
	}
	alg, err := key.ParsePublicKeyAlg(*b.Alg)
	if err != nil {
		return apigw.Response{}, err
	}
	var p key.PublicKey
	switch {
	case (b.PublicKey == nil) == (b.JWK == nil):
		return apigw.Response{}, key.Invalid("exactly one of public_key and jwk is required")
	case b.PublicKey != nil:
		p, err = key.ParsePublicKeyPEM(alg, *b.PublicKey)
	default:
		p, err = key.ParsePublicKeyJWK(alg, key.JWK{Kty: b.JWK.Kty, Crv: b.JWK.Crv, X: b.JWK.X, Y: deref(b.JWK.Y)})
	}
	if err != nil {
		return apigw.Response{}, err
	}
	added, err := h.Keys.AddPublicKey(ctx, a, req.PathParameters["id"], p)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(201, added.View()), nil
}

func (h *API) publicKeyList(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	ps, err := h.Keys.ListPublicKeys(ctx, a, req.PathParameters["id"])
	if err != nil {
		return apigw.Response{}, err
	}
	out := publicKeyList{Data: make([]key.PublicKeyView, 0, len(ps))}
	for i := len(ps) - 1; i >= 0; i-- { // newest first, as every list
		out.Data = append(out.Data, ps[i].View())
	}
	return apigw.JSON(200, out), nil
}

func (h *API) publicKeyDelete(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	if err := h.Keys.DeletePublicKey(ctx, a, req.PathParameters["id"], req.PathParameters["pk_id"]); err != nil {
		return apigw.Response{}, err
	}
	return apigw.NoContent(), nil
}
