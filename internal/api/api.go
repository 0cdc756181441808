// Package api holds the management API's handlers. Each Lambda function
// serves its own routes from the one table below; the local gateway serves the
// very same handlers.
package api

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/leakreport"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// Audit lists audit records, and records refused changes (coalesced, so
// that no caller can flood the log).
type Audit interface {
	ListAudit(ctx context.Context, merchantID string, limit int, cursor string) ([]key.AuditRecord, string, error)
	RecordRefusal(ctx context.Context, r *key.AuditRecord) error
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
	ListUsage(ctx context.Context, clientID, from, to string) ([]key.UsageDay, error)
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
	// Document is the OpenAPI document GET /v1/openapi.json serves (OpenAPI()),
	// given only to the keys function, so that no other links it.
	Document []byte
	// LeakKeys verify the signatures of leak reports (POST /v1/leaks); none:
	// every report is refused.
	LeakKeys leakreport.Keys
	Log      *slog.Logger
	Now      func() time.Time
}

// Route is one route of the management API.
type Route struct {
	Key      string // the API Gateway route key, "METHOD /path"
	Function string // the Lambda function that serves it, as template.yaml names it (CreateFunction: "create")
	Need     apigw.Permission
	// Service routes carry no JWT: IAM authenticates them at API Gateway,
	// or they are open (the OpenAPI document).
	Service bool
	serve   func(h *API, ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error)
}

// The management API's one route table, in one group per Lambda function:
// which function serves each route, and what a caller needs to call it.
// Routes returns the whole table; a unit test checks it against
// template.yaml's events and the OpenAPI document. Each function's binary
// names only its own group (see Handler), so it links only its own
// handlers.
var (
	CreateRoutes = []Route{
		{"POST /v1/keys", "create", apigw.Write, false, (*API).create},
	}
	KeysRoutes = []Route{
		{"GET /v1/keys", "keys", apigw.Read, false, (*API).list},
		{"GET /v1/keys/{id}", "keys", apigw.Read, false, (*API).get},
		{"PATCH /v1/keys/{id}", "keys", apigw.Write, false, (*API).patch},
		{"DELETE /v1/keys/{id}", "keys", apigw.Write, false, (*API).revoke},
		{"GET /v1/keys/{id}/usage", "keys", apigw.Read, false, (*API).usage},
		{"GET /v1/audit", "keys", apigw.Write, false, (*API).audit},
		{"GET /v1/openapi.json", "keys", apigw.Read, true, (*API).openAPIDocument},
		{"POST /v1/leaks", "keys", apigw.Read, true, (*API).leaks},
		{"POST /v1/keys/{id}/public-keys", "keys", apigw.Write, false, (*API).publicKeyCreate},
		{"GET /v1/keys/{id}/public-keys", "keys", apigw.Read, false, (*API).publicKeyList},
		{"DELETE /v1/keys/{id}/public-keys/{pk_id}", "keys", apigw.Write, false, (*API).publicKeyDelete},
	}
	ResetRoutes = []Route{
		{"POST /v1/keys/{id}/reset", "reset", apigw.Write, false, (*API).reset},
	}
	VerifyRoutes = []Route{
		{"POST /v1/keys/{id}/verify", "verify", apigw.Verify, false, (*API).verify},
		{"POST /v1/verify", "verify", apigw.Read, true, (*API).serviceVerify},
	}
	WebhooksRoutes = []Route{
		{"POST /v1/webhooks", "webhooks", apigw.Write, false, (*API).webhookCreate},
		{"GET /v1/webhooks", "webhooks", apigw.Read, false, (*API).webhookList},
		{"GET /v1/webhooks/{id}", "webhooks", apigw.Read, false, (*API).webhookGet},
		{"PATCH /v1/webhooks/{id}", "webhooks", apigw.Write, false, (*API).webhookPatch},
		{"DELETE /v1/webhooks/{id}", "webhooks", apigw.Write, false, (*API).webhookDelete},
		{"POST /v1/webhooks/{id}/rotate-secret", "webhooks", apigw.Write, false, (*API).webhookRotate},
		{"GET /v1/webhooks/{id}/deliveries", "webhooks", apigw.Read, false, (*API).webhookDeliveries},
		{"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry", "webhooks", apigw.Write, false, (*API).webhookRetry},
		{"POST /v1/webhooks/{id}/test", "webhooks", apigw.Write, false, (*API).webhookTest},
	}
)

// Routes returns the management API's route table: every function's group.
// A function's binary that calls it links every handler.
func Routes() []Route {
	return slices.Concat(CreateRoutes, KeysRoutes, ResetRoutes, VerifyRoutes, WebhooksRoutes)
}

// Handler returns the handler of the Lambda function whose group of Routes
// is given (VerifyRoutes for verify): it serves those routes and answers 404
// to any other.
func (h *API) Handler(routes []Route) apigw.Handler {
	name := ""
	if len(routes) > 0 {
		name = routes[0].Function
	}
	return h.handler(name, routes)
}

// Function returns the handler of the named function, its routes taken from
// the whole table: for the local gateway and the tests, which serve every
// function in one process.
func (h *API) Function(name string) apigw.Handler {
	var mine []Route
	for _, r := range Routes() {
		if r.Function == name {
			mine = append(mine, r)
		}
	}
	return h.handler(name, mine)
}

func (h *API) handler(name string, routes []Route) apigw.Handler {
	mine := make(map[string]Route, len(routes))
	for _, r := range routes {
		mine[r.Key] = r
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

func (h *API) serve(ctx context.Context, mine map[string]Route, req apigw.Request) (apigw.Response, key.Actor) {
	reqID := req.RequestContext.RequestID
	r, ok := mine[req.RouteKey]
	if !ok {
		return apigw.Error(ctx, h.Log, reqID, notFoundRoute(req)), key.Actor{}
	}
	var a key.Actor
	if !r.Service {
		var err error
		if a, err = apigw.Actor(req, r.Need); err != nil {
			resp := apigw.Error(ctx, h.Log, reqID, err)
			h.auditRefused(ctx, a, req, resp.StatusCode)
			return resp, a
		}
	}
	resp, err := r.serve(h, ctx, a, req)
	if err != nil {
		resp = apigw.Error(ctx, h.Log, reqID, err)
		h.auditRefused(ctx, a, req, resp.StatusCode)
	}
	return resp, a
}
