// Package rotatefn builds the scheduled lifecycle function (rotate): the job
// that expires keys, sends reminders, ends grace periods and closes ended
// webhook signing-secret overlaps.
package rotatefn

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// New builds the rotate function.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (func(context.Context, events.EventBridgeEvent) (rotate.Stats, error), func(), error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	return Job(cfg, a, log).Handle, nil, nil
}

// Job returns the lifecycle job; each run also closes the webhook
// signing-secret overlaps that are over, and does the secret store's upkeep
// (moving secrets into the configured store, re-wrapping after a KEK rotation).
func Job(cfg config.Config, a *adapters.Adapters, log *slog.Logger) *rotate.Job {
	j := rotate.New(a.Store, a.Secrets, log)
	j.Metrics = metrics.Default()
	urls := webhooksvc.URLs{Sender: &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}}
	j.Overlaps = webhooksvc.New(a.Store, a.WebhookSecrets, urls, log)
	j.Upkeep = secret.Chains{a.Secrets, a.WebhookSecrets}
	return j
}
