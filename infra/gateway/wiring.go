package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/cfn"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/demo"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/portal"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/store"
)

// localDefaults are the settings make dev runs with unless the environment
// says otherwise; the authorizer's come from its entry in the template.
var localDefaults = map[string]string{
	"TABLE_NAME":    "paykeys-local",
	"SECRET_PREFIX": "paykeys-local/",
	"ENVIRONMENT":   "test",
	// Local receivers on 127.0.0.1 may get webhooks (README: Webhooks).
	"WEBHOOK_ALLOW_PRIVATE": "true",
	// The portal offers the gateway's development sign-in
	// (portal.DevTokenPath), which nothing deployed serves.
	"PORTAL_DEV_SIGNIN": "true",
}

// handlers builds the application once, creates its table in DynamoDB Local
// if needed, and returns every function behind the template's routes.
func handlers(ctx context.Context) (map[string]Handler, func(context.Context) error, func(), error) {
	fnEnv, err := functionEnvironment(envOr(os.Getenv, "TEMPLATE", "template.yaml"), "AuthorizeFunction")
	if err != nil {
		return nil, nil, nil, err
	}
	getenv := func(name string) string {
		if v := os.Getenv(name); v != "" {
			return v
		}
		if v, ok := fnEnv[name]; ok {
			return v
		}
		return localDefaults[name]
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("configuration: %w", err)
	}
	a, err := app.New(ctx, cfg, os.Stdout)
	if err != nil {
		return nil, nil, nil, err
	}
	if err := store.CreateTable(ctx, a.Dynamo, cfg.TableName); err != nil {
		return nil, nil, nil, fmt.Errorf("create table %s (is DynamoDB Local up? run make dev): %w", cfg.TableName, err)
	}
	authz, err := a.Authorizer()
	if err != nil {
		return nil, nil, nil, err
	}
	registerAuthorizer("authorize", authorizerInvoker{authz})
	hs := map[string]Handler{"demo": demo.Handler{Log: a.Log}.Handle}
	for _, fn := range []string{"create", "keys", "reset", "verify", "webhooks"} {
		hs[fn] = Handler(a.HTTP(fn))
	}
	pages, err := portal.New(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	hs["portal"] = pages.Handle
	stop := startSchedules(a, os.Getenv)
	ready := func(ctx context.Context) error {
		_, err := a.Store.GetKey(ctx, "ck_test_0000000000000000000000")
		if err != nil && !errors.Is(err, key.ErrNotFound) {
			return err
		}
		return nil
	}
	return hs, ready, func() { stop(); closeApp(a) }, nil
}

// startSchedules runs what AWS runs on triggers and schedules, until the
// returned stop is called: the webhook function on the table's stream (read
// from DynamoDB Local every 250 ms) and on its sweep schedule (every
// WORKER_INTERVAL, 1s; one minute in AWS), and the lifecycle job every
// ROTATE_INTERVAL (30s; RotateSchedule in AWS).
func startSchedules(a *app.App, getenv func(string) string) func() {
	ctx, cancel := context.WithCancel(context.Background())
	sweeps := rotate.Every(ctx, interval(getenv("WORKER_INTERVAL"), time.Second), func(ctx context.Context) {
		st, err := a.Worker.Sweep(ctx)
		if err != nil && ctx.Err() == nil {
			a.Log.Error("webhook sweep failed", "error", err)
		} else if st.Events+st.Attempts > 0 {
			a.Log.Info("webhook sweep", "events", st.Events, "attempts", st.Attempts, "errors", st.Errors)
		}
	})
	job := a.Rotator()
	runs := rotate.Every(ctx, interval(getenv("ROTATE_INTERVAL"), 30*time.Second), func(ctx context.Context) {
		if _, err := job.Run(ctx); err != nil && ctx.Err() == nil {
			a.Log.Error("rotate run failed", "error", err)
		}
	})
	tail := &streamTail{
		streams: awsclient.DynamoDBStreams(a.AWS, a.Config.DynamoDBEndpoint), tables: a.Dynamo,
		table: a.Config.TableName, handle: a.Worker.HandleStream, log: a.Log, every: 250 * time.Millisecond,
	}
	tailed := make(chan struct{})
	go func() {
		defer close(tailed)
		if err := tail.run(ctx); err != nil {
			a.Log.Warn("not tailing the table's stream; the sweep alone delivers webhooks", "error", err.Error())
		}
	}()
	return func() { cancel(); <-sweeps; <-runs; <-tailed }
}

// interval parses a duration setting, def when it is unset or not positive.
func interval(v string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d
	}
	return def
}

// authorizerInvoker invokes the authorizer with a raw event, as Lambda does.
type authorizerInvoker struct{ h *authorizer.Handler }

func (i authorizerInvoker) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := i.h.Handle(ctx, payload)
	if err != nil {
		return nil, err
	}
	return json.Marshal(out)
}

// functionEnvironment reads a function's Environment.Variables from the
// template, over those of Globals.Function, keeping only plain string values
// (!Ref and friends need AWS).
func functionEnvironment(path, logicalID string) (map[string]string, error) {
	root, err := cfn.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	// Globals.Function's variables first: SAM merges the function's over them.
	for _, vars := range []*yaml.Node{
		cfn.Get(cfn.Get(cfn.Get(cfn.Get(root, "Globals"), "Function"), "Environment"), "Variables"),
		cfn.Get(cfn.Get(cfn.Get(cfn.Get(cfn.Get(root, "Resources"), logicalID), "Properties"), "Environment"), "Variables"),
	} {
		for name, v := range cfn.Pairs(vars) {
			if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
				out[name] = v.Value
			}
		}
	}
	return out, nil
}
