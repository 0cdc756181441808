package api

import (
	"context"
	"net/netip"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
)

type serviceVerifyBody struct {
	Secret      *string `json:"secret"`
	Scope       *string `json:"scope"`
	IP          *string `json:"ip"`
	Environment *string `json:"environment"`
}

// serviceKey is the part of a key a service verify reveals, and only once the
// caller proved it holds the key's secret.
type serviceKey struct {
	ID          string   `json:"id"`
	MerchantID  string   `json:"merchant_id"`
	Environment string   `json:"environment"`
	Scopes      []string `json:"scopes"`
}

type serviceVerifyResult struct {
	Valid bool        `json:"valid"`
	Code  key.Code    `json:"code"`
	Key   *serviceKey `json:"key,omitempty"`
}

// serviceVerify decides on a bearer secret as the authorizer would. Internal
// services call it with IAM authentication, so it has no merchant context.
func (h *API) serviceVerify(ctx context.Context, _ key.Actor, req apigw.Request) (apigw.Response, error) {
	var b serviceVerifyBody
	if _, err := apigw.Decode(req, &b, false); err != nil {
		return apigw.Response{}, err
	}
	if b.Secret == nil {
		return apigw.Response{}, key.Invalid("secret is required")
	}
	var need key.Requirement
	if b.Scope != nil {
		if _, err := key.ParseScopes([]string{*b.Scope}); err != nil || *b.Scope == "*" {
			return apigw.Response{}, key.Invalid("scope must look like resource:action")
		}
		need.Scope = *b.Scope
	}
	if b.IP != nil {
		ip, err := netip.ParseAddr(*b.IP)
		if err != nil || ip.Zone() != "" {
			return apigw.Response{}, key.Invalid("ip must be an IPv4 or IPv6 address")
		}
		need.SourceIP, need.CheckIP = ip.Unmap(), true
	}
	if b.Environment != nil {
		env, err := key.ParseEnvironment(*b.Environment)
		if err != nil {
			return apigw.Response{}, err
		}
		need.Environment = env
	}
	if *b.Secret == "" {
		return apigw.JSON(200, serviceVerifyResult{Code: key.CodeMalformed}), nil
	}
	d, err := h.Verifier.DecideBearer(ctx, *b.Secret, need)
	if err != nil {
		return apigw.Response{}, err
	}
	out := serviceVerifyResult{Valid: d.Code == key.CodeValid, Code: d.Code}
	if d.Key != nil {
		scopes := d.Key.Scopes
		if scopes == nil {
			scopes = []string{}
		}
		out.Key = &serviceKey{ID: d.Key.ID, MerchantID: d.Key.MerchantID, Environment: string(d.Key.Environment), Scopes: scopes}
	}
	if h.Usage != nil {
		ip := "" // the address the calling service vouches for, if it named one
		if need.CheckIP {
			ip = need.SourceIP.String()
		}
		h.Usage.Record(d, ip, h.Now())
	}
	return apigw.JSON(200, out), nil
}
