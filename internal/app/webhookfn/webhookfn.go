// Package webhookfn builds the webhook delivery function: the delivery worker
// behind the table's stream and the sweep schedule.
package webhookfn

import (
	"context"
	"encoding/json"
	"log/slog"

	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/webhook"
)

// New builds the webhook function.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (func(context.Context, json.RawMessage) (any, error), error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return Worker(cfg, a, log).Handle, nil
}

// Worker returns the delivery worker.
func Worker(cfg config.Config, a *adapters.Adapters, log *slog.Logger) *delivery.Worker {
	w := delivery.New(a.Store, a.WebhookSecrets, &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}, log)
	w.Metrics = metrics.Default()
	return w
}
