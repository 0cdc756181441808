package authz

import (
	"context"
	"fmt"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/signature"
)

// publicSigned decides on an RFC 9421 signature made with a registered
// public key, in the contract's order: well-formed, key found, proven
// (created in the window, then the signature with the keyid's public key and
// its alg), then the nonce, then the key's restrictions with the mode
// signature. An unknown or deleted keyid, an alg that is not the registered
// key's, or a bad signature is SIGNATURE_INVALID; no secret is read.
func (e *Engine) publicSigned(ctx context.Context, r Request) (Decision, error) {
	d := Decision{Mode: key.ModeSignature}
	s, err := signature.ParseMessageSignature(r.SignatureInput, r.MessageSignature, r.HasBody)
	if err != nil {
		d.Code = key.CodeMalformed
		return d, nil
	}
	base, err := s.Base(r.Message)
	if err != nil || s.Covers("content-digest") && !validDigestHeader(r.Message) {
		d.Code = key.CodeMalformed
		return d, nil
	}
	bases := []string{base}
	for _, path := range r.PathForms {
		m := r.Message
		m.Path = path
		if b, err := s.Base(m); err == nil && b != base {
			bases = append(bases, b)
		}
	}
	clientID, ok := key.PublicKeyClientID(s.KeyID)
	if !ok {
		d.Code = key.CodeSignatureInvalid // a keyid that is not ours names no key
		return d, nil
	}
	d.ClientID, d.PublicKeyID = clientID, s.KeyID
	now := e.Now()
	inWindow := s.InWindow(now)
	var k *key.Key
	proven := false
	err = e.withKey(ctx, clientID, now, &d, func(c *key.Key) (bool, error) {
		k = c
		if !inWindow {
			return true, nil
		}
		proven = provePublic(c, s, bases)
		return proven, nil
	})
	switch {
	case err != nil:
		return d, unavailable(StoreKeys, err)
	case k == nil:
		d.Code = key.CodeSignatureInvalid // an unknown keyid
		return d, nil
	case !inWindow:
		d.Code = key.CodeTimestampWindow
		return d, nil
	case !proven:
		d.Code = key.CodeSignatureInvalid
		return d, nil
	}
	fresh, err := e.nonces.UseNonce(ctx, clientID, s.Nonce, now, now.Add(NonceLifetime))
	if err != nil {
		return d, unavailable(StoreNonces, fmt.Errorf("use nonce of %s: %w", clientID, err))
	}
	if !fresh {
		d.Code = key.CodeNonceReused
		return d, nil
	}
	d = e.check(d, k, key.MatchCurrent, r, now)
	d.SecretVersion = 0 // no secret was used
	return d, nil
}

// provePublic verifies the signature, over any of the signature bases (one
// per form of the path), with the public key its keyid names, under that
// key's own algorithm. A revoked key proves nothing, like a signed request
// whose secret is destroyed.
func provePublic(k *key.Key, s *signature.MessageSignature, bases []string) bool {
	if k.Status == key.StatusRevoked {
		return false
	}
	pk, ok := k.PublicKey(s.KeyID)
	if !ok || string(pk.Alg) != s.Alg {
		return false
	}
	for _, base := range bases {
		if signature.VerifyPublic(s.Alg, pk.X, pk.Y, base, s.Signature) {
			return true
		}
	}
	return false
}

// validDigestHeader: a covered Content-Digest lists only sha-256 and
// sha-512 digests, as the backend will compare them with the body.
func validDigestHeader(m signature.Message) bool {
	if m.Header == nil {
		return false
	}
	v, ok := m.Header("content-digest")
	return ok && signature.ValidContentDigest(v)
}
