package key

import (
	"net/netip"
	"time"
)

// Code is the reason for a verification decision (README: The authorizer; the OpenAPI document: DecisionCode).
type Code string

const (
	CodeValid             Code = "VALID"
	CodeMalformed         Code = "MALFORMED"
	CodeNotFound          Code = "NOT_FOUND"
	CodeDisabled          Code = "DISABLED"
	CodeRevoked           Code = "REVOKED"
	CodeExpired           Code = "EXPIRED"
	CodeIPNotAllowed      Code = "IP_NOT_ALLOWED"
	CodeInsufficientScope Code = "INSUFFICIENT_SCOPE"
	CodeEnvMismatch       Code = "ENV_MISMATCH"
	CodeModeNotAllowed    Code = "MODE_NOT_ALLOWED"
	CodeSignatureInvalid  Code = "SIGNATURE_INVALID"
	CodeTimestampWindow   Code = "TIMESTAMP_OUT_OF_WINDOW"
	CodeNonceReused       Code = "NONCE_REUSED"
)

// Codes lists every code, in the order the decision checks them.
var Codes = []Code{
	CodeMalformed, CodeNotFound, CodeTimestampWindow, CodeSignatureInvalid, CodeNonceReused,
	CodeModeNotAllowed, CodeRevoked, CodeDisabled, CodeExpired, CodeEnvMismatch,
	CodeIPNotAllowed, CodeInsufficientScope, CodeValid,
}

// Unproven reports whether the code means that the caller did not prove it
// holds a key's secret (401), as opposed to a real key that may not do this (403).
func (c Code) Unproven() bool {
	switch c {
	case CodeMalformed, CodeNotFound, CodeSignatureInvalid, CodeTimestampWindow, CodeNonceReused:
		return true
	}
	return false
}

// Requirement is what a request needs of a key once its secret is proven.
type Requirement struct {
	Mode        AuthMode
	Environment Environment // the API's environment; empty: not checked
	SourceIP    netip.Addr  // the caller's address
	CheckIP     bool        // false only where no address is known (service verify without ip)
	Scope       string      // the scope the route needs; empty: none
}

// Check decides, for a key whose secret the caller has proven, whether it may
// make this request, in the contract's order: mode, status, expiry,
// environment, source address, scope.
func (k *Key) Check(r Requirement, now time.Time) Code {
	switch {
	case !k.AllowsMode(r.Mode):
		return CodeModeNotAllowed
	case k.Status == StatusRevoked:
		return CodeRevoked
	case k.Status == StatusDisabled:
		return CodeDisabled
	case k.Status == StatusExpired || k.Expired(now):
		return CodeExpired
	case k.Status != StatusActive:
		return CodeDisabled // an unknown status never allows
	case r.Environment != "" && r.Environment != k.Environment:
		return CodeEnvMismatch
	case r.CheckIP && len(k.AllowedIPs) > 0 && !(r.SourceIP.IsValid() && IPAllowed(k.AllowedIPs, r.SourceIP)):
		return CodeIPNotAllowed
	case !Grants(k.Scopes, r.Scope):
		return CodeInsufficientScope
	}
	return CodeValid
}

// MatchedVersion is the secret version a match refers to.
func (k *Key) MatchedVersion(m SecretMatch) int {
	if m == MatchPrevious {
		return k.PrevSecretVersion
	}
	return k.SecretVersion
}

// Decision is the outcome of deciding on a presented credential. Key is set
// once the caller proved it holds the key's secret (even when the decision is
// a deny); SecretVersion is the version that matched; CacheHit says the key
// came from the decider's cache.
type Decision struct {
	Code          Code
	Key           *Key
	ClientID      string
	PublicKeyID   string // the registered public key of a signature (ModeSignature)
	Mode          AuthMode
	SecretVersion int
	CacheHit      bool
}
