// Package managefn builds the management API functions that change and read
// keys and webhook endpoints (create, keys, reset, webhooks). None of them
// decides on a key, so none builds the decision engine or usage counters.
package managefn

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// Functions are the functions New builds.
var Functions = []string{"create", "keys", "reset", "webhooks"}

// New returns a builder of one of Functions.
func New(function string) func(context.Context, config.Config, *slog.Logger) (apigw.Handler, []lambda.Option, error) {
	return func(ctx context.Context, cfg config.Config, log *slog.Logger) (apigw.Handler, []lambda.Option, error) {
		h, err := API(ctx, cfg, log, function)
		if err != nil {
			return nil, nil, err
		}
		return h.Function(function), nil, nil
	}
}

// API returns the management API with what function uses: the key service
// for create, keys and reset, and the webhook endpoints for webhooks.
func API(ctx context.Context, cfg config.Config, log *slog.Logger, function string) (*api.API, error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	scopes, err := cfg.DeclaredScopes()
	if err != nil {
		return nil, err
	}
	h := &api.API{Keys: a.Keys(cfg, log), Audit: a.Store, Scopes: scopes, Log: log, Now: time.Now}
	switch function {
	case "create", "reset":
	case "keys":
		h.Counters = a.Store            // GET /v1/keys/{id}/usage
		h.Document = api.OpenAPI()      // GET /v1/openapi.json
		h.LeakKeys = cfg.LeakReportKeys // POST /v1/leaks
	case "webhooks":
		h.Webhooks = Webhooks(cfg, a, log)
	default:
		return nil, fmt.Errorf("no management function %q", function)
	}
	return h, nil
}

// Webhooks returns the webhook endpoint service. A test or retry is sent at
// once, by a delivery worker of its own.
func Webhooks(cfg config.Config, a *adapters.Adapters, log *slog.Logger) *webhooksvc.Service {
	sender := &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}
	w := webhooksvc.New(a.Store, a.WebhookSecrets, webhooksvc.URLs{Sender: sender}, log)
	d := delivery.New(a.Store, a.WebhookSecrets, sender, log)
	d.Metrics = metrics.Default()
	w.Sender = d
	return w
}
