package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/store"
)

// localGetenv reads the environment, falling back to make dev's local
// defaults (wiring.go).
func localGetenv(getenv func(string) string) func(string) string {
	return func(name string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return localDefaults[name]
	}
}

// runRotateCommand runs the subcommand args[0], rotate or rotate-load.
func runRotateCommand(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if args[0] == "rotate-load" {
		return runRotateLoad(args[1:], getenv, stdout, stderr)
	}
	return runRotate(args[1:], getenv, stdout, stderr)
}

// runRotate implements `gateway rotate`: one run of the scheduled lifecycle
// job against the local stack, with the settings make dev uses. The run's
// summary is logged to stderr and its stats printed as JSON on stdout.
func runRotate(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway rotate [-timeout 15m]")
		fmt.Fprintln(stderr, "Runs the scheduled lifecycle job once on TABLE_NAME (default paykeys-local) against the local stack.")
		fs.PrintDefaults()
	}
	timeout := fs.Duration("timeout", 15*time.Minute, "the run's time limit, as the function's timeout (it stops 30s before)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rotate: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()

	cfg, err := config.Load(localGetenv(getenv))
	if err != nil {
		fmt.Fprintln(stderr, "rotate: configuration:", err)
		return 1
	}
	a, err := app.New(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "rotate:", err)
		return 1
	}
	defer func() { _ = a.Close(context.WithoutCancel(ctx)) }()
	if err := store.CreateTable(ctx, a.Dynamo, cfg.TableName); err != nil {
		fmt.Fprintf(stderr, "rotate: table %s (is the local stack up? make stack-up): %v\n", cfg.TableName, err)
		return 1
	}
	st, err := a.Rotator().Run(ctx)
	out, _ := json.MarshalIndent(st, "", "  ")
	fmt.Fprintln(stdout, string(out))
	if err != nil {
		fmt.Fprintln(stderr, "rotate:", err)
		return 1
	}
	return 0
}

// countingDynamo counts what the job reads: Query calls and the index items
// they read (DynamoDB's ScannedCount), consistent GetItems, transactions
// and any Scan (the store has none; a Scan here would be a full table read).
type countingDynamo struct {
	*dynamodb.Client
	queries, queryItems, gets, transactions, scans atomic.Int64
	getNanos, transactNanos                        atomic.Int64
}

func (c *countingDynamo) Query(ctx context.Context, in *dynamodb.QueryInput, o ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	out, err := c.Client.Query(ctx, in, o...)
	c.queries.Add(1)
	if err == nil {
		c.queryItems.Add(int64(out.ScannedCount))
	}
	return out, err
}

func (c *countingDynamo) GetItem(ctx context.Context, in *dynamodb.GetItemInput, o ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	c.gets.Add(1)
	defer func(t time.Time) { c.getNanos.Add(int64(time.Since(t))) }(time.Now())
	return c.Client.GetItem(ctx, in, o...)
}

func (c *countingDynamo) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, o ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	c.transactions.Add(1)
	defer func(t time.Time) { c.transactNanos.Add(int64(time.Since(t))) }(time.Now())
	return c.Client.TransactWriteItems(ctx, in, o...)
}

func (c *countingDynamo) Scan(ctx context.Context, in *dynamodb.ScanInput, o ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error) {
	c.scans.Add(1)
	return c.Client.Scan(ctx, in, o...)
}

// loadKind is what a generated key has scheduled.
type loadKind int

const (
	loadExpired   loadKind = iota // due: past expires_at
	loadExpiring                  // due: expires within 7 days, not reminded
	loadRotation                  // due: rotation_days passed
	loadGraceOver                 // due: previous secret's grace over
	loadNothing                   // not due, not in the due index
	loadFarExpiry                 // not due: expires in a year (in the index, later)
	loadFarRotate                 // not due: rotation in 90 days (in the index, later)
)

// loadKey mints a key of kind for merchant m as of now.
func loadKey(kind loadKind, m int, now time.Time) (*key.Key, error) {
	created := now.Add(-60 * 24 * time.Hour)
	iss, err := key.New(key.NewParams{
		MerchantID: fmt.Sprintf("m_load_%03d", m), Name: "load", Environment: key.EnvTest,
		Scopes: []string{"payments:read"},
	}, key.NewVersionID(), created)
	if err != nil {
		return nil, err
	}
	k := iss.Key
	switch kind {
	case loadExpired:
		k.ExpiresAt = aws.Time(now.Add(-time.Hour))
		k.ExpiringNoticeFor = *k.ExpiresAt
	case loadExpiring:
		k.ExpiresAt = aws.Time(now.Add(3 * 24 * time.Hour))
	case loadRotation:
		k.RotationDays = aws.Int(30)
	case loadGraceOver:
		k.PrevSecretHash, k.PrevSecretVersion, k.PrevSecretVersionID = k.SecretHash, 1, key.NewVersionID()
		k.PrevSecretExpiresAt = aws.Time(now.Add(-time.Minute))
		k.SecretVersion, k.SecretVersionID, k.SecretHash = 2, key.NewVersionID(), key.Hash(key.DefaultBrand.NewSecret(k.ID))
		k.SecretIssuedAt = now.Add(-time.Hour)
	case loadFarExpiry:
		k.ExpiresAt = aws.Time(now.Add(365 * 24 * time.Hour))
	case loadFarRotate:
		k.RotationDays = aws.Int(90)
		k.SecretIssuedAt = now
	}
	return k, nil
}

// runRotateLoad implements `gateway rotate-load`: it bulk-writes keys into a
// fresh table of DynamoDB Local, a fraction of them due, times one run of
// the job over them, checks what it wrote, and reports.
func runRotateLoad(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rotate-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("keys", 100000, "keys to write")
	due := fs.Float64("due", 0.1, "fraction of the keys that is due (expired, expiring, rotation due, grace over in equal parts)")
	writers := fs.Int("writers", 8, "concurrent BatchWriteItem calls while loading")
	workers := fs.Int("workers", rotate.DefaultWorkers, "keys the job handles at once")
	page := fs.Int("page", rotate.DefaultPageSize, "due index entries per page")
	table := fs.String("table", "", "table to create (default paykeys-rotate-load-<unix time>)")
	keep := fs.Bool("keep", false, "keep the table afterwards")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *n < 1 || *due < 0 || *due > 1 || *writers < 1 {
		fmt.Fprintln(stderr, "rotate-load: -keys must be positive, -due within 0..1, -writers positive")
		return 2
	}
	if *table == "" {
		*table = fmt.Sprintf("paykeys-rotate-load-%d", time.Now().Unix())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	env := localGetenv(getenv)
	cfg, err := config.Load(func(name string) string {
		switch name {
		case "TABLE_NAME":
			return *table
		case "SECRET_PREFIX":
			return "paykeys-rotate-load/"
		case "LOG_LEVEL":
			return "warn"
		}
		return env(name)
	})
	if err != nil {
		fmt.Fprintln(stderr, "rotate-load: configuration:", err)
		return 1
	}
	if cfg.DynamoDBEndpoint == "" {
		fmt.Fprintln(stderr, "rotate-load: DYNAMODB_ENDPOINT is not set; this writes a lot and is for the local stack only (make rotate-load)")
		return 2
	}
	a, err := app.New(ctx, cfg, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "rotate-load:", err)
		return 1
	}
	defer func() { _ = a.Close(context.WithoutCancel(ctx)) }()
	if err := store.CreateTable(ctx, a.Dynamo, *table); err != nil {
		fmt.Fprintln(stderr, "rotate-load:", err)
		return 1
	}
	if !*keep {
		defer func() {
			if _, err := a.Dynamo.DeleteTable(context.WithoutCancel(ctx), &dynamodb.DeleteTableInput{TableName: table}); err != nil {
				fmt.Fprintln(stderr, "rotate-load: delete table:", err)
			}
		}()
	}

	// The keys: the first dueN are due, in four equal parts.
	now := time.Now().UTC()
	dueN := int(float64(*n)*(*due) + 0.5)
	kinds := map[loadKind]int{}
	keys := make([]*key.Key, *n)
	for i := range keys {
		kind := loadNothing + loadKind(i%3)
		if i < dueN {
			kind = loadKind(i % 4)
		}
		if keys[i], err = loadKey(kind, i%100, now); err != nil {
			fmt.Fprintln(stderr, "rotate-load:", err)
			return 1
		}
		kinds[kind]++
	}
	fmt.Fprintf(stderr, "rotate-load: writing %d keys (%d due) into %s with %d writers\n", *n, dueN, *table, *writers)
	loadStart := time.Now()
	if err := loadAll(ctx, a.Dynamo, *table, keys, *writers); err != nil {
		fmt.Fprintln(stderr, "rotate-load:", err)
		return 1
	}
	loadTime := time.Since(loadStart)
	indexed, err := countIndex(ctx, a.Dynamo, *table)
	if err != nil {
		fmt.Fprintln(stderr, "rotate-load:", err)
		return 1
	}

	// One timed run, then a second that must find nothing.
	db := &countingDynamo{Client: a.Dynamo}
	job := rotate.New(store.New(db, *table), a.Secrets, a.Log)
	job.Workers, job.PageSize = *workers, *page
	fmt.Fprintf(stderr, "rotate-load: loaded in %s; %d keys in the due index; running the job\n", loadTime.Round(time.Millisecond), indexed)
	st, runErr := job.Run(ctx)
	first := map[string]int64{
		"query_calls": db.queries.Load(), "query_items_read": db.queryItems.Load(),
		"get_item_calls": db.gets.Load(), "transactions": db.transactions.Load(), "scan_calls": db.scans.Load(),
		"get_item_avg_us":    db.getNanos.Load() / max(db.gets.Load(), 1) / 1000,
		"transaction_avg_us": db.transactNanos.Load() / max(db.transactions.Load(), 1) / 1000,
	}
	again, againErr := job.Run(ctx)
	events, err := countEvents(ctx, a.Dynamo, *table)
	if err != nil {
		fmt.Fprintln(stderr, "rotate-load:", err)
		return 1
	}

	wantEvents := kinds[loadExpired] + kinds[loadExpiring] + kinds[loadRotation]
	report := map[string]any{
		"keys_in_table": *n, "keys_due": dueN, "keys_in_due_index": indexed,
		"load_seconds": loadTime.Seconds(), "run": st, "dynamodb": first,
		"events_in_outbox": events, "events_expected": wantEvents,
		"second_run": map[string]any{"index_items": again.IndexItems, "events": again.Events, "duration_ms": again.DurationMS},
		"workers":    *workers, "page_size": *page,
	}
	out, _ := json.MarshalIndent(report, "", "  ")
	fmt.Fprintln(stdout, string(out))
	fmt.Fprintf(stdout, "\n%d keys, %d due: one run took %s, read %d due index items in %d queries (0 table scans: %d), handled %d keys, wrote %d events (%d in the outbox, %d expected); the next run read %d items\n",
		*n, dueN, st.Duration.Round(time.Millisecond), first["query_items_read"], first["query_calls"], first["scan_calls"],
		st.Keys, st.Events, events, wantEvents, again.IndexItems)

	switch {
	case runErr != nil || againErr != nil:
		fmt.Fprintln(stderr, "rotate-load: run failed:", errors.Join(runErr, againErr))
		return 1
	case first["query_items_read"] != int64(dueN) || st.Keys != dueN || first["scan_calls"] != 0:
		fmt.Fprintln(stderr, "rotate-load: the run read other than exactly the due keys")
		return 1
	case st.Events != wantEvents || events != wantEvents || again.IndexItems != 0:
		fmt.Fprintln(stderr, "rotate-load: events lost, invented, or keys left due")
		return 1
	}
	return 0
}

// loadAll writes keys with writers concurrent LoadKeys calls of 25 items.
func loadAll(ctx context.Context, api store.BatchWriteAPI, table string, keys []*key.Key, writers int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunks := make(chan []*key.Key)
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range chunks {
				if err := store.LoadKeys(ctx, api, table, c); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
	for i := 0; i < len(keys) && ctx.Err() == nil; i += 25 {
		chunks <- keys[i:min(i+25, len(keys))]
	}
	close(chunks)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}

// countIndex counts the keys in the due index, due or not (for the report).
func countIndex(ctx context.Context, db *dynamodb.Client, table string) (int, error) {
	total := 0
	for shard := range 8 {
		in := &dynamodb.QueryInput{
			TableName: aws.String(table), IndexName: aws.String("gsi2"), Select: types.SelectCount,
			KeyConditionExpression:    aws.String("gsi2pk = :pk"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": &types.AttributeValueMemberS{Value: fmt.Sprintf("DUE#KEY#%d", shard)}},
		}
		for {
			out, err := db.Query(ctx, in)
			if err != nil {
				return 0, fmt.Errorf("count due index: %w", err)
			}
			total += int(out.Count)
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	return total, nil
}

// countEvents counts the outbox events in the table (a Scan, after the runs).
func countEvents(ctx context.Context, db *dynamodb.Client, table string) (int, error) {
	in := &dynamodb.ScanInput{
		TableName: aws.String(table), Select: types.SelectCount,
		FilterExpression:          aws.String("begins_with(pk, :e)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":e": &types.AttributeValueMemberS{Value: "EVENT#"}},
	}
	total := 0
	for {
		out, err := db.Scan(ctx, in)
		if err != nil {
			return 0, fmt.Errorf("count events: %w", err)
		}
		total += int(out.Count)
		if len(out.LastEvaluatedKey) == 0 {
			return total, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}
