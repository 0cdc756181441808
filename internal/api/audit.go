package api

import (
	"context"
	"strings"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
)

// changes name the audit action of each route that changes something.
// Successful changes are audited in the transaction that makes them; a
// change refused for the caller's role, an object it may not see, or a
// conflict is audited here, so an audit log also shows what was tried.
var changes = map[string]string{
	"POST /v1/keys":                                         "key.create",
	"PATCH /v1/keys/{id}":                                   "key.update",
	"DELETE /v1/keys/{id}":                                  "key.revoke",
	"POST /v1/keys/{id}/reset":                              "key.reset",
	"POST /v1/keys/{id}/public-keys":                        "key.public_key_add",
	"DELETE /v1/keys/{id}/public-keys/{pk_id}":              "key.public_key_delete",
	"POST /v1/webhooks":                                     "webhook.create",
	"PATCH /v1/webhooks/{id}":                               "webhook.update",
	"DELETE /v1/webhooks/{id}":                              "webhook.delete",
	"POST /v1/webhooks/{id}/rotate-secret":                  "webhook.rotate_secret",
	"POST /v1/webhooks/{id}/test":                           "webhook.test",
	"POST /v1/webhooks/{id}/deliveries/{delivery_id}/retry": "webhook.retry",
}

// refusals are the answers that are audited, with their outcome.
var refusals = map[int]string{403: key.OutcomeDenied, 404: key.OutcomeDenied, 409: key.OutcomeConflict}

// auditRefused records a refused change. It is best effort: the caller gets
// its answer whether or not the record could be written. Refusals are
// coalesced per actor, action, outcome and resource in each hour, with a
// count, and bounded per actor (see store.RecordRefusal).
func (h *API) auditRefused(ctx context.Context, a key.Actor, req apigw.Request, status int) {
	action, ok := changes[req.RouteKey]
	outcome, refused := refusals[status]
	if !ok || !refused || a.Subject == "" || a.MerchantID == "" || h.Audit == nil {
		return
	}
	typ, _, _ := strings.Cut(action, ".")
	if typ == "webhook" {
		typ = "webhook_endpoint"
	}
	r := a.Audit(action, typ, safeID(req.PathParameters["id"]), outcome, h.Now().UTC())
	if err := h.Audit.RecordRefusal(ctx, r); err != nil {
		h.Log.WarnContext(ctx, "refused change not audited", "request_id", a.RequestID, "error", err.Error())
	}
}

// safeID returns a path ID fit for logs and the audit log: an ID of the
// shape this service issues, else "". A caller may put anything in a path,
// a secret included, and none of it may be written down.
func safeID(id string) string {
	if key.ValidClientID(id) || hook.ValidID(id) {
		return id
	}
	return ""
}
