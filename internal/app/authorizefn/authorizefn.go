// Package authorizefn builds the authorize function: the decision engine,
// the API Gateway authorizer over it, and the usage counters, flushed when
// Lambda shuts the container down.
package authorizefn

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/app/decide"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/usage"
)

// New builds the authorize function: the handler is the authorizer's Handle,
// a function, as the Lambda runtime requires.
func New(ctx context.Context, cfg config.Config, log *slog.Logger) (func(context.Context, json.RawMessage) (any, error), func(), error) {
	a, err := adapters.Open(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	u := decide.Usage(a, log)
	engine := decide.Engine(cfg, a)
	h, err := Handler(cfg, log, engine, u)
	if err != nil {
		_ = u.Close(ctx)
		return nil, nil, err
	}
	h.Metrics = metrics.Default()
	decide.Observe(engine, h.Metrics)
	return h.Handle, decide.OnSIGTERM(u, log), nil
}

// Handler returns the authorizer over engine, with the route scopes of the
// configuration.
func Handler(cfg config.Config, log *slog.Logger, engine *authz.Engine, u *usage.Recorder) (*authorizer.Handler, error) {
	routes, err := key.ParseRoutes(cfg.RouteScopes)
	if err != nil {
		return nil, fmt.Errorf("ROUTE_SCOPES: %w", err)
	}
	if cfg.Environment == "" {
		log.Warn("ENVIRONMENT is not set: requests are refused (ENV_UNKNOWN) unless the API's stage variable environment is test or live")
	}
	return &authorizer.Handler{
		Engine: engine, Routes: routes, Environment: key.Environment(cfg.Environment),
		Log: log, PolicyForHTTPAPI: cfg.PolicyForHTTPAPI, Usage: u,
	}, nil
}
