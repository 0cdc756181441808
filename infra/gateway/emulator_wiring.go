package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/store"
)

// emulatorSettings reads emulator mode's settings: RIE (the emulator binary;
// set, it turns emulator mode on), LAMBDA_BIN (the bootstraps, one folder
// per function) and RIE_POOL (emulators per function).
func emulatorSettings(getenv func(string) string) (rie, binDir string, pool int, err error) {
	rie = getenv("RIE")
	if rie == "" {
		return "", "", 0, nil
	}
	binDir = envOr(getenv, "LAMBDA_BIN", "infra/.cache/bin/lambda")
	pool = defaultPoolSize
	if v := getenv("RIE_POOL"); v != "" {
		pool, err = strconv.Atoi(v)
		if err != nil || pool < 1 || pool > maxPoolSize {
			return "", "", 0, fmt.Errorf("RIE_POOL must be an integer from 1 to %d, not %q", maxPoolSize, v)
		}
	}
	// The emulators run in their functions' folders: the paths must not
	// depend on the gateway's.
	if rie, err = filepath.Abs(rie); err == nil {
		binDir, err = filepath.Abs(binDir)
	}
	return rie, binDir, pool, err
}

// emulatorRegistry returns the registry of emulator mode: each function of
// the template runs as its bootstrap under a pool of emulators, and the
// stream tail, the delivery sweep and the lifecycle schedule invoke the
// webhook and rotate functions through theirs.
//
// authorizers returns, once the registry has run, every function's pool as
// an Invoker, since any of them may be a route's Lambda authorizer. tap,
// when not nil, gets every line the functions write as they wrote it, before
// it is redacted (tests look there for secrets and metrics), instead of
// stdout.
func emulatorRegistry(rie, binDir string, pool int, getenv func(string) string, logger *slog.Logger, tap io.Writer) (
	registry func(context.Context) (map[string]Handler, func(context.Context) error, func(), error),
	authorizers func() map[string]Invoker,
) {
	var mu sync.Mutex
	auths := map[string]Invoker{}
	authorizers = func() map[string]Invoker {
		mu.Lock()
		defer mu.Unlock()
		return maps.Clone(auths)
	}
	return func(ctx context.Context) (map[string]Handler, func(context.Context) error, func(), error) {
		lg := localGetenv(getenv)
		fns, err := templateFunctions(envOr(getenv, "TEMPLATE", "template.yaml"))
		if err != nil {
			return nil, nil, nil, err
		}
		awsCfg, err := awsclient.Load(ctx, awsclient.Options{
			Region:           envOr(getenv, "AWS_REGION", defaultRegion),
			DynamoDBEndpoint: getenv("DYNAMODB_ENDPOINT"),
		})
		if err != nil {
			return nil, nil, nil, err
		}
		dynamo := awsclient.DynamoDB(awsCfg, getenv("DYNAMODB_ENDPOINT"))
		table := lg("TABLE_NAME")
		if err := store.CreateTable(ctx, dynamo, table); err != nil {
			return nil, nil, nil, fmt.Errorf("create table %s (is DynamoDB Local up? run make dev): %w", table, err)
		}
		var out io.Writer = os.Stdout
		if tap != nil {
			out = io.Discard
		}
		es, err := startEmulators(ctx, fns, emulatorOptions{
			rie: rie, binDir: binDir, pool: pool, getenv: getenv,
			region: awsCfg.Region, log: logger, out: out, tap: tap, debug: strings.EqualFold(getenv("LOG_LEVEL"), "debug"),
		})
		if err != nil {
			return nil, nil, nil, err
		}
		hs := map[string]Handler{}
		mu.Lock()
		for name, p := range es.pools {
			hs[name] = p.Handler()
			auths[name] = p
		}
		mu.Unlock()
		st := store.New(dynamo, table)
		ready := func(ctx context.Context) error {
			if err := es.ready(); err != nil {
				return err
			}
			if _, err := st.GetKey(ctx, "ck_test_0000000000000000000000"); err != nil && !errors.Is(err, key.ErrNotFound) {
				return err
			}
			return nil
		}
		stop := func() {}
		if webhook, rot := es.pools["webhook"], es.pools["rotate"]; webhook != nil && rot != nil {
			stop = startEmulatedSchedules(getenv, logger, awsCfg.Region, table,
				&streamTail{
					streams: awsclient.DynamoDBStreams(awsCfg, getenv("DYNAMODB_ENDPOINT")), tables: dynamo,
					table: table, handle: streamInvoker(webhook, logger), log: logger, every: 250 * time.Millisecond,
				}, webhook, rot)
		} else {
			logger.Warn("no webhook or rotate function in the template: no stream tail, sweep or lifecycle schedule")
		}
		return hs, ready, func() { stop(); es.close(); logger.Info("emulators stopped") }, nil
	}, authorizers
}

// startEmulatedSchedules runs, until the returned stop is called, what AWS
// runs on triggers and schedules, as invocations of the functions'
// emulators: the webhook function on the table's stream and on its sweep
// schedule (WORKER_INTERVAL), and rotate every ROTATE_INTERVAL.
func startEmulatedSchedules(getenv func(string) string, logger *slog.Logger, region, table string, tail *streamTail, webhook, rot Invoker) func() {
	ctx, cancel := context.WithCancel(context.Background())
	sweeps := rotate.Every(ctx, interval(getenv("WORKER_INTERVAL"), time.Second), func(ctx context.Context) {
		if _, err := invokeScheduled(ctx, webhook, region, "webhook-sweep"); err != nil && ctx.Err() == nil {
			logger.Error("webhook sweep failed", "error", err.Error())
		}
	})
	runs := rotate.Every(ctx, interval(getenv("ROTATE_INTERVAL"), 30*time.Second), func(ctx context.Context) {
		if _, err := invokeScheduled(ctx, rot, region, "rotate-schedule"); err != nil && ctx.Err() == nil {
			logger.Error("rotate run failed", "error", err.Error())
		}
	})
	tailed := make(chan struct{})
	go func() {
		defer close(tailed)
		if err := tail.run(ctx); err != nil {
			logger.Warn("not tailing the table's stream; the sweep alone delivers webhooks", "error", err.Error(), "table", table)
		}
	}()
	return func() { cancel(); <-sweeps; <-runs; <-tailed }
}

// scheduledEvent is the event an EventBridge schedule sends.
func scheduledEvent(region, rule string, now time.Time) events.EventBridgeEvent {
	return events.EventBridgeEvent{
		Version: "0", ID: newUUID(), DetailType: "Scheduled Event", Source: "aws.events",
		AccountID: defaultAccountID, Time: now.UTC(), Region: region,
		Resources: []string{fmt.Sprintf("arn:aws:events:%s:%s:rule/%s", region, defaultAccountID, rule)},
		Detail:    json.RawMessage(`{}`),
	}
}

func invokeScheduled(ctx context.Context, fn Invoker, region, rule string) ([]byte, error) {
	payload, err := json.Marshal(scheduledEvent(region, rule, time.Now()))
	if err != nil {
		return nil, err
	}
	return fn.Invoke(ctx, payload)
}

// streamInvoker hands the stream's records to the webhook function, as the
// event source mapping does: only the records its filter lets through
// (INSERTs of outbox items, pk EVENT#...), and nothing when none are left.
func streamInvoker(webhook Invoker, logger *slog.Logger) func(context.Context, events.DynamoDBEvent) events.DynamoDBEventResponse {
	return func(ctx context.Context, batch events.DynamoDBEvent) events.DynamoDBEventResponse {
		kept := events.DynamoDBEvent{}
		for _, r := range batch.Records {
			if outboxInsert(r) {
				kept.Records = append(kept.Records, r)
			}
		}
		if len(kept.Records) == 0 {
			return events.DynamoDBEventResponse{}
		}
		var resp events.DynamoDBEventResponse
		payload, err := json.Marshal(kept)
		if err == nil {
			var out []byte
			if out, err = webhook.Invoke(ctx, payload); err == nil {
				err = json.Unmarshal(out, &resp)
			}
		}
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("webhook stream batch failed", "records", len(kept.Records), "error", err.Error())
			}
			resp.BatchItemFailures = nil
			for _, r := range kept.Records {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.DynamoDBBatchItemFailure{ItemIdentifier: r.Change.SequenceNumber})
			}
		}
		return resp
	}
}

// outboxInsert is the template's filter on the webhook function's stream
// mapping: {"eventName": ["INSERT"], "dynamodb": {"Keys": {"pk": {"S":
// [{"prefix": "EVENT#"}]}}}}.
func outboxInsert(r events.DynamoDBEventRecord) bool {
	if r.EventName != string(events.DynamoDBOperationTypeInsert) {
		return false
	}
	pk, ok := r.Change.Keys["pk"]
	return ok && pk.DataType() == events.DataTypeString && strings.HasPrefix(pk.String(), "EVENT#")
}
