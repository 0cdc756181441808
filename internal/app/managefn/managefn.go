// Package managefn builds the management API functions that change and read
// keys and webhook endpoints (create, keys, reset, webhooks). None of them
// decides on a key, so none builds the decision engine or usage counters.
// Each function has its own builder, which names only its own group of
// api.Routes and builds only what those routes use, so that its binary
// links nothing of the others'.
package managefn

import (
	"context"
	"log/slog"
	"time"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// Create builds the create function (api.CreateRoutes).
func Create(ctx context.Context, cfg config.Config, log *slog.Logger) (apigw.Handler, error) {
	return build(ctx, cfg, log, api.CreateRoutes, nil)
}

// Reset builds the reset function (api.ResetRoutes).
func Reset(ctx context.Context, cfg config.Config, log *slog.Logger) (apigw.Handler, error) {
	return build(ctx, cfg, log, api.ResetRoutes, nil)
}

// Keys builds the keys function (api.KeysRoutes): besides the key service,
// the usage counters, the OpenAPI document and the leak reporters' keys.
// It is the only function that links the document.
func Keys(ctx context.Context, cfg config.Config, log *slog.Logger) (apigw.Handler, error) {
	return build(ctx, cfg, log, api.KeysRoutes, func(h *api.API, a *adapters.Adapters) {
		h.Counters = a.Store            // GET /v1/keys/{id}/usage
		h.Document = api.OpenAPI()      // GET /v1/openapi.json
		h.LeakKeys = cfg.LeakReportKeys // POST /v1/leaks
	})
}

// Webhooks builds the webhooks function (api.WebhooksRoutes): the webhook
// endpoint service.
func Webhooks(ctx context.Context, cfg config.Config, log *slog.Logger) (apigw.Handler, error) {
	return build(ctx, cfg, log, api.WebhooksRoutes, func(h *api.API, a *adapters.Adapters) {
		h.Webhooks = webhookService(cfg, a, log)
	})
}

// build returns the handler of routes over the management API with the key
// service, and with what more adds.
func build(ctx context.Context, cfg config.Config, log *slog.Logger, routes []api.Route, more func(*api.API, *adapters.Adapters)) (apigw.Handler, error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	scopes, err := cfg.DeclaredScopes()
	if err != nil {
		return nil, err
	}
	h := &api.API{Keys: a.Keys(cfg, log), Audit: a.Store, Scopes: scopes, Log: log, Now: time.Now}
	if more != nil {
		more(h, a)
	}
	return h.Handler(routes), nil
}

// webhookService returns the webhook endpoint service. A test or retry is
// sent at once, by a delivery worker of its own.
func webhookService(cfg config.Config, a *adapters.Adapters, log *slog.Logger) *webhooksvc.Service {
	sender := &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}
	w := webhooksvc.New(a.Store, a.WebhookSecrets, webhooksvc.URLs{Sender: sender}, log)
	d := delivery.New(a.Store, a.WebhookSecrets, sender, log)
	d.Metrics = metrics.Default()
	w.Sender = d
	return w
}
