// Package app wires configuration, AWS clients, adapters and handlers
// together. Each Lambda function builds only what it uses, with its own
// constructor in a package below this one (authorizefn, verifyfn, managefn,
// webhookfn, rotatefn, demofn), called from functions/<name>/main.go through
// start.Main. New builds all of them at once, sharing one engine and one set
// of clients, for the local gateway, which serves every function in process.
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
	"github.com/paykeys/paykeys/internal/app/adapters"
	"github.com/paykeys/paykeys/internal/app/authorizefn"
	"github.com/paykeys/paykeys/internal/app/decide"
	"github.com/paykeys/paykeys/internal/app/rotatefn"
	"github.com/paykeys/paykeys/internal/app/start"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/delivery"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/usage"
	"github.com/paykeys/paykeys/internal/webhook"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// App holds every function's parts, built once, for in-process use.
type App struct {
	Config config.Config
	AWS    aws.Config
	Log    *slog.Logger
	Dynamo *dynamodb.Client
	Store  *store.Store
	// Secrets holds key secrets, WebhookSecrets webhook signing secrets.
	Secrets        *secret.Chain
	WebhookSecrets *secret.Chain
	Keys           *keysvc.Service
	Engine         *authz.Engine
	API            *api.API
	// Usage counts the authorizer's and service verify's decisions; one per
	// container, written in the background (see package usage).
	Usage *usage.Recorder
	// Webhooks manages endpoints; Worker fans out and delivers events.
	Webhooks *webhooksvc.Service
	Worker   *delivery.Worker
}

// New builds the App. It makes no network call. Unlike a function, it
// resolves AWS credentials with the SDK's whole chain (shared files,
// profiles), as a tool on a workstation should.
func New(ctx context.Context, cfg config.Config, logOut io.Writer) (*App, error) {
	awsCfg, err := awsclient.Load(ctx, adapters.Options(cfg))
	if err != nil {
		return nil, fmt.Errorf("aws config: %w", err)
	}
	ad := adapters.With(awsCfg, cfg)
	declared, err := cfg.DeclaredScopes()
	if err != nil {
		return nil, err
	}
	log := Logger(logOut, cfg.LogLevel)
	a := &App{Config: cfg, AWS: ad.AWS, Log: log, Dynamo: ad.Dynamo, Store: ad.Store, Secrets: ad.Secrets, WebhookSecrets: ad.WebhookSecrets}
	a.Keys = ad.Keys(cfg, log)
	a.Engine = decide.Engine(cfg, ad)
	a.Usage = decide.Usage(ad, log)
	sender := &webhook.Sender{AllowPrivate: cfg.WebhookAllowPrivate, LoopbackOnly: cfg.WebhookLoopbackOnly}
	a.Worker = delivery.New(a.Store, a.WebhookSecrets, sender, log)
	a.Webhooks = webhooksvc.New(a.Store, a.WebhookSecrets, webhooksvc.URLs{Sender: sender}, log)
	a.Webhooks.Sender = a.Worker // test and retry send at once
	a.API = &api.API{Keys: a.Keys, Webhooks: a.Webhooks, Audit: a.Store, Verifier: a.Engine, Document: api.OpenAPI(), Log: log, Now: time.Now}
	a.API.Usage, a.API.Counters = a.Usage, a.Store
	a.API.Scopes = declared
	a.API.LeakKeys = cfg.LeakReportKeys
	return a, nil
}

// DeclaredScopes are the scopes keys may be granted: those the routes of
// ROUTE_SCOPES require and those EXTRA_SCOPES lists.
func DeclaredScopes(cfg config.Config) (key.DeclaredScopes, error) { return cfg.DeclaredScopes() }

// Authorizer returns the API Gateway authorizer, with the route scopes of
// the configuration.
func (a *App) Authorizer() (*authorizer.Handler, error) {
	return authorizefn.Handler(a.Config, a.Log, a.Engine, a.Usage)
}

// Close writes the usage counts still in memory and stops their
// background writer.
func (a *App) Close(ctx context.Context) error { return a.Usage.Close(ctx) }

// HTTP returns the management API handler of one function.
func (a *App) HTTP(function string) apigw.Handler { return a.API.Function(function) }

// Rotator returns the scheduled lifecycle job (the rotate function); each
// run also closes the webhook signing-secret overlaps that are over and
// does the secret store's upkeep, KEK rotation and orphan sweep.
func (a *App) Rotator() *rotate.Job {
	j := rotate.New(a.Store, a.Secrets, a.Log)
	j.Overlaps = a.Webhooks
	rotatefn.SecretStore(j, a.Config, a.Secrets, a.WebhookSecrets, a.Store)
	return j
}

// Logger is the JSON logger every function writes one line per decision to
// (start.Logger): anything shaped like a secret is redacted.
func Logger(w io.Writer, level slog.Level) *slog.Logger { return start.Logger(w, level) }
