// Package api holds the management API's handlers. Each Lambda function
// serves its own routes from the one table below; the local gateway serves the
// very same handlers.
package api

import (
	"context"
	"log/slog"
	"time"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// Audit lists audit records, and records refused changes (coalesced, so
// that no caller can flood the log).
type Audit interface {
	ListAudit(ctx context.Context, merchantID string, limit int, cursor string) ([]store.AuditRecord, string, error)
	RecordRefusal(ctx context.Context, r *store.AuditRecord) error
}

// Usage is told of every service verify decision (usage counters).
type Usage interface {
	Record(d key.Decision, sourceIP string, now time.Time)
}

// Verifier decides on a bearer secret as the authorizer would (POST
// /v1/verify); *authz.Engine is one.
type Verifier interface {
	DecideBearer(ctx context.Context, secret string, need key.Requirement) (key.Decision, error)
}

// UsageCounters reads a key's per-day decision counts.
type UsageCounters interface {
	ListUsage(ctx context.Context, clientID, from, to string) ([]store.UsageDay, error)
}

// API serves the management routes.
type API struct {
	Keys     *keysvc.Service
	Webhooks *webhooksvc.Service
	Audit    Audit
	Verifier Verifier      // the decision core behind POST /v1/verify
	Usage    Usage         // optional
	Counters UsageCounters // reads GET /v1/keys/{id}/usage
	// Scopes are the scopes keys may be granted (the zero value: none).
	Scopes key.DeclaredScopes
	Log    *slog.Logger
	Now    func() time.Time
}

type route struct {
	function string
	need     apigw.Permission
	serve    func(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error)
	// service routes carry no JWT: IAM authenticates them at API Gateway,
	// or they are open (the OpenAPI document).
	service bool
}

// routes maps API Gateway route keys to the function that serves them.
func (h *API) routes() map[string]route {
	return map[string]route{
		"POST /v1/keys":             {"create", apigw.Write, h.create, false},
		"GET /v1/keys":              {"keys", apigw.Read, h.list, false},
		"GET /v1/keys/{id}":         {"keys", apigw.Read, h.get, false},
		"PATCH /v1/keys/{id}":       {"keys", apigw.Write, h.patch, false},
		"DELETE /v1/keys/{id}":      {"keys", apigw.Write, h.revoke, false},
		"GET /v1/keys/{id}/usage":   {"keys", apigw.Read, h.usage, false},
		"GET /v1/audit":             {"keys", apigw.Write, h.audit, false},
		"POST /v1/keys/{id}/reset":  {"reset", apigw.Write, h.reset, false},
		"POST /v1/keys/{id}/verify": {"verify", apigw.Verify, h.verify, false},
		"POST /v1/verify":           {"verify", apigw.Read, h.serviceVerify, true},
		"GET /v1/openapi.json":      {"keys", apigw.Read, h.openAPIDocument, true},

		"POST /v1/keys/{id}/public-keys":           {"keys", apigw.Write, h.publicKeyCreate, false},
		"GET /v1/keys/{id}/public-keys":            {"keys", apigw.Read, h.publicKeyList, false},
		"DELETE /v1/keys/{id}/public-keys/{pk_id}": {"keys", apigw.Write, h.publicKeyDelete, false},

		"POST /v1/webhooks":                                     {"webhooks", apigw.Write, h.webhookCreate, false},
		"GET /v1/webhooks":                                      {"webhooks", apigw.Read, h.webhookList, false},
		"GET /v1/webhooks/{id}":                                 {"webhooks", apigw.Read, h.webhookGet, false},
		"PATCH /v1/webhooks/{id}":                               {"webhooks", apigw.Write, h.webhookPatch, false},
		"DELETE /v1/webhooks/{id}":                              {"webhooks", apigw.Write, h.webhookDelete, false},
		"POST /v1/webhooks/{id}/rotate-secret":                  {"webhooks", apigw.Write, h.webhookRotate, false},
		"GET /v1/webhooks/{id}/deliveries":                      {"webhooks", apigw.Read, h.webhookDeliveries, false},
		"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry": {"webhooks", apigw.Write, h.webhookRetry, false},
		"POST /v1/webhooks/{id}/test":                           {"webhooks", apigw.Write, h.webhookTest, false},
	}
}

// Function returns the handler of one Lambda function: it serves that
// function's routes and answers 404 to any other.
func (h *API) Function(name string) apigw.Handler {
	mine := map[string]route{}
	for k, r := range h.routes() {
		if r.function == name {
			mine[k] = r
		}
	}
	return func(ctx context.Context, req apigw.Request) (apigw.Response, error) {
		start := time.Now()
		resp, a := h.serve(ctx, mine, req)
		h.Log.InfoContext(ctx, "request",
			"function", name, "route", req.RouteKey, "status", resp.StatusCode,
			"latency_ms", float64(time.Since(start).Microseconds())/1000,
			"request_id", req.RequestContext.RequestID, "merchant_id", a.MerchantID,
			"actor", a.Subject, "role", a.Role, "resource_id", safeID(req.PathParameters["id"]))
		return resp, nil
	}
}

func (h *API) serve(ctx context.Context, mine map[string]route, req apigw.Request) (apigw.Response, key.Actor) {
	reqID := req.RequestContext.RequestID
	r, ok := mine[req.RouteKey]
	if !ok {
		return apigw.Error(ctx, h.Log, reqID, notFoundRoute(req)), key.Actor{}
	}
	var a key.Actor
	if !r.service {
		var err error
		if a, err = apigw.Actor(req, r.need); err != nil {
			resp := apigw.Error(ctx, h.Log, reqID, err)
			h.auditRefused(ctx, a, req, resp.StatusCode)
			return resp, a
		}
	}
	resp, err := r.serve(ctx, a, req)
	if err != nil {
		resp = apigw.Error(ctx, h.Log, reqID, err)
		h.auditRefused(ctx, a, req, resp.StatusCode)
	}
	return resp, a
}
