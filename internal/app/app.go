// Package app wires configuration, AWS clients, adapters and handlers
// together. Each Lambda's main and the local gateway build the same App.
package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
)

// App holds everything a function needs, built once per container.
type App struct {
	Config  config.Config
	Log     *slog.Logger
	Dynamo  *dynamodb.Client
	Store   *store.Store
	Secrets *secret.Store
	Keys    *keysvc.Service
	Engine  *authz.Engine
	API     *api.API
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
	log := Logger(logOut, cfg.LogLevel)
	a := &App{Config: cfg, Log: log, Dynamo: awsclient.DynamoDB(awsCfg, cfg.DynamoDBEndpoint)}
	var opts []store.Option
	if len(cfg.CursorKey) > 0 {
		opts = append(opts, store.WithCursorKey(cfg.CursorKey))
	}
	a.Store = store.New(a.Dynamo, cfg.TableName, opts...)
	a.Secrets = secret.New(awsclient.SecretsManager(awsCfg, cfg.SecretsManagerEndpoint), cfg.SecretPrefix)
	a.Keys = keysvc.New(a.Store, a.Secrets, log)
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = -1 // CACHE_TTL=0 turns the cache off
	}
	a.Engine = authz.New(a.Store, a.Secrets, a.Store, authz.Options{CacheTTL: ttl})
	a.API = &api.API{Keys: a.Keys, Audit: a.Store, Verifier: a.Engine, Log: log, Now: time.Now}
	return a, nil
}

// Authorizer returns the API Gateway authorizer, with the route scopes of
// the configuration.
func (a *App) Authorizer() (*authorizer.Handler, error) {
	routes, err := authorizer.ParseRoutes(a.Config.RouteScopes)
	if err != nil {
		return nil, fmt.Errorf("ROUTE_SCOPES: %w", err)
	}
	return &authorizer.Handler{
		Engine: a.Engine, Routes: routes, Environment: key.Environment(a.Config.Environment),
		Log: a.Log, PolicyForHTTPAPI: a.Config.PolicyForHTTPAPI,
	}, nil
}

// HTTP returns the management API handler of one function.
func (a *App) HTTP(function string) apigw.Handler { return a.API.Function(function) }

// Logger is the JSON logger every function writes one line per decision to.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
