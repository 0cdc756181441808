//go:build integration

package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

// A key change reaches a receiver through the table's stream in DynamoDB
// Local and the webhook function's stream handler, with no sweep running.
func TestStreamTailDelivers(t *testing.T) {
	testenv.Dynamo(t)
	env := map[string]string{
		"TABLE_NAME": testenv.UniqueName(t, "tail"), "SECRET_PREFIX": testenv.UniqueName(t, "tail") + "/",
		"WEBHOOK_ALLOW_PRIVATE": "true", "DYNAMODB_ENDPOINT": getenvT("DYNAMODB_ENDPOINT"),
		"SECRETSMANAGER_ENDPOINT": getenvT("SECRETSMANAGER_ENDPOINT"), "AWS_REGION": "us-east-1",
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testenv.Context(t))
	defer cancel()
	a, err := app.New(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateTable(ctx, a.Dynamo, cfg.TableName); err != nil {
		t.Fatal(err)
	}
	got := make(chan string, 10)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- string(b)
	}))
	defer rcv.Close()
	actor := key.Actor{Subject: "u", MerchantID: "m_tail", Role: "admin"}
	if _, _, err := a.Webhooks.Create(ctx, actor, webhooksvc.CreateParams{URL: rcv.URL}); err != nil {
		t.Fatal(err)
	}

	tail := &streamTail{streams: awsclientStreams(a), tables: a.Dynamo, table: cfg.TableName,
		handle: a.Worker.HandleStream, log: a.Log, every: 100 * time.Millisecond}
	done := make(chan error, 1)
	go func() { done <- tail.run(ctx) }()
	time.Sleep(500 * time.Millisecond) // the tail starts at the stream's end

	if _, err := a.Keys.Create(ctx, actor, key.NewParams{Name: "tail", Environment: key.EnvTest}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case body := <-got:
		if !strings.Contains(body, `"type":"key.created"`) {
			t.Errorf("received %s", body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no delivery through the stream within 10 s")
	}
	if pending, _ := a.Store.PendingEvents(ctx, time.Now(), 10); len(pending) != 0 {
		t.Errorf("%d events still pending fan-out", len(pending))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("tail: %v", err)
	}
}

func getenvT(name string) string { return os.Getenv(name) }

func awsclientStreams(a *app.App) streamAPI {
	return awsclient.DynamoDBStreams(a.AWS, a.Config.DynamoDBEndpoint)
}
