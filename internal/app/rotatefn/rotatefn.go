// Package rotatefn builds the scheduled lifecycle function (rotate): the job
// that expires keys, sends reminders, ends grace periods and closes ended
// webhook signing-secret overlaps.
package rotatefn

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// New builds the rotate function.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (func(context.Context, events.EventBridgeEvent) (rotate.Stats, error), error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return Job(cfg, a, log).Handle, nil
}

// Job returns the lifecycle job; each run also closes the webhook
// signing-secret overlaps that are over, and does the secret store's upkeep
// (moving secrets into the configured store, re-wrapping after a KEK rotation).
func Job(cfg config.Config, a *adapters.Adapters, log *slog.Logger) *rotate.Job {
	j := rotate.New(a.Store, a.Secrets, log)
	j.Metrics = metrics.Default()
	urls := webhooksvc.URLs{Sender: &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}}
	j.Overlaps = webhooksvc.New(a.Store, a.WebhookSecrets, urls, log)
	SecretStore(j, cfg, a.Secrets, a.WebhookSecrets, a.Store)
	return j
}

// SecretStore gives the job the secret stores' share of the lifecycle, for
// key secrets and webhook signing secrets alike: their upkeep (moving
// secrets into the configured store, re-wrapping after a KEK rotation), KEK
// rotation (on request, and every KEK_ROTATION_DAYS) and the orphan secret
// sweep.
func SecretStore(j *rotate.Job, cfg config.Config, keys, webhooks *secret.Chain, st *store.Store) {
	chains := secret.Chains{keys, webhooks}
	j.Upkeep, j.KEKs = chains, chains
	j.KEKMaxAge = time.Duration(cfg.KEKRotationDays) * 24 * time.Hour
	j.Cursors = st
	j.Sweeps = []rotate.SweptStore{
		{Kind: "keys", Secrets: keys, Owner: rotate.KeyRecords(st)},
		{Kind: "webhooks", Secrets: webhooks, Owner: rotate.EndpointRecords(st)},
	}
}
