// Package app wires configuration, AWS clients, adapters and handlers
// together. Each Lambda's main and the local gateway build the same App.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/redact"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/usage"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// App holds everything a function needs, built once per container.
type App struct {
	Config  config.Config
	AWS     aws.Config
	Log     *slog.Logger
	Dynamo  *dynamodb.Client
	Store   *store.Store
	Secrets *secret.Store
	Keys    *keysvc.Service
	Engine  *authz.Engine
	API     *api.API
	// Usage counts the authorizer's and service verify's decisions; one per
	// container, written in the background (see package usage).
	Usage *usage.Recorder
	// Webhooks manages endpoints; Worker fans out and delivers events.
	Webhooks *webhooksvc.Service
	Worker   *delivery.Worker
}

// New builds the App. It makes no network call.
func New(ctx context.Context, cfg config.Config, logOut io.Writer) (*App, error) {
	awsCfg, err := awsclient.Load(ctx, awsclient.Options{
		Region:                 cfg.Region,
		DynamoDBEndpoint:       cfg.DynamoDBEndpoint,
		SecretsManagerEndpoint: cfg.SecretsManagerEndpoint,
	})
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	declared, err := DeclaredScopes(cfg)
	if err != nil {
		return nil, err
	}
	log := Logger(logOut, cfg.LogLevel)
	a := &App{Config: cfg, AWS: awsCfg, Log: log, Dynamo: awsclient.DynamoDB(awsCfg, cfg.DynamoDBEndpoint)}
	var opts []store.Option
	if len(cfg.CursorKey) > 0 {
		opts = append(opts, store.WithCursorKey(cfg.CursorKey))
	}
	a.Store = store.New(a.Dynamo, cfg.TableName, opts...)
	a.Secrets = secret.New(awsclient.SecretsManager(awsCfg, cfg.SecretsManagerEndpoint), cfg.SecretPrefix)
	a.Keys = keysvc.New(a.Store, a.Secrets, log)
	a.Keys.MaxKeys = cfg.MaxKeysPerMerchant
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = -1 // CACHE_TTL=0 turns the cache off
	}
	a.Engine = authz.New(a.Store, a.Secrets, a.Store, authz.Options{CacheTTL: ttl, Feed: a.Store})
	a.Usage = usage.New(a.Store, usage.Options{Log: log})
	sender := &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}
	a.Worker = delivery.New(a.Store, a.Secrets, sender, log)
	a.Webhooks = webhooksvc.New(a.Store, a.Secrets, webhooksvc.URLs{Sender: sender}, log)
	a.Webhooks.Sender = a.Worker // test and retry send at once
	a.API = &api.API{Keys: a.Keys, Webhooks: a.Webhooks, Audit: a.Store, Verifier: a.Engine, Log: log, Now: time.Now}
	a.API.Usage, a.API.Counters = a.Usage, a.Store
	a.API.Scopes = declared
	return a, nil
}

// DeclaredScopes are the scopes keys may be granted: those the routes of
// ROUTE_SCOPES require and those EXTRA_SCOPES lists.
func DeclaredScopes(cfg config.Config) (key.DeclaredScopes, error) {
	routes, err := authorizer.ParseRoutes(cfg.RouteScopes)
	if err != nil {
		return key.DeclaredScopes{}, fmt.Errorf("ROUTE_SCOPES: %w", err)
	}
	d, err := key.NewDeclaredScopes(append(routes.Scopes(), cfg.ExtraScopes...))
	if err != nil {
		return key.DeclaredScopes{}, fmt.Errorf("EXTRA_SCOPES: %w", err)
	}
	return d, nil
}

// Authorizer returns the API Gateway authorizer, with the route scopes of
// the configuration.
func (a *App) Authorizer() (*authorizer.Handler, error) {
	routes, err := authorizer.ParseRoutes(a.Config.RouteScopes)
	if err != nil {
		return nil, fmt.Errorf("ROUTE_SCOPES: %w", err)
	}
	if a.Config.Environment == "" {
		a.Log.Warn("ENVIRONMENT is not set: requests are refused (ENV_UNKNOWN) unless the API's stage variable environment is test or live")
	}
	return &authorizer.Handler{
		Engine: a.Engine, Routes: routes, Environment: key.Environment(a.Config.Environment),
		Log: a.Log, PolicyForHTTPAPI: a.Config.PolicyForHTTPAPI, Usage: a.Usage,
	}, nil
}

// Close writes the usage counts still in memory and stops their
// background writer.
func (a *App) Close(ctx context.Context) error { return a.Usage.Close(ctx) }

// HTTP returns the management API handler of one function.
func (a *App) HTTP(function string) apigw.Handler { return a.API.Function(function) }

// Rotator returns the scheduled lifecycle job (the rotate function). If the
// webhook side of the App closes ended signing-secret overlaps
// (rotate.Overlaps), each run calls it too.
func (a *App) Rotator() *rotate.Job {
	j := rotate.New(a.Store, a.Secrets, a.Log)
	j.Overlaps = a.Webhooks
	return j
}

// Logger is the JSON logger every function writes one line per decision to.
// Anything shaped like a secret, in the message or any attribute, is
// redacted before it is written.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(redact.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}
