// Package verifyfn builds the verify function of the management API: a
// portal's check of a secret (POST /v1/keys/{id}/verify) and the service
// verify route (POST /v1/verify), which decides as the authorizer does and
// counts usage, flushed when Lambda shuts the container down.
package verifyfn

import (
	"context"
	"log/slog"
	"time"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/app/decide"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/metrics"
)

// New builds the verify function.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (apigw.Handler, func(), error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	scopes, err := cfg.DeclaredScopes()
	if err != nil {
		return nil, nil, err
	}
	u := decide.Usage(a, log)
	engine := decide.Engine(cfg, a)
	decide.Observe(engine, metrics.Default())
	h := &api.API{
		Keys: a.Keys(cfg, log), Audit: a.Store, Verifier: engine, Usage: u,
		Scopes: scopes, Log: log, Now: time.Now,
	}
	return h.Handler(api.VerifyRoutes), decide.OnSIGTERM(u, log), nil
}
