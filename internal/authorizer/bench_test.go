package authorizer_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/usage"
)

type oneKey struct{ k *key.Key }

func (o oneKey) GetKey(_ context.Context, id string) (*key.Key, error) {
	if id == o.k.ID {
		return o.k, nil
	}
	return nil, key.NotFound("key", id)
}

type noSecrets struct{}

func (noSecrets) Get(context.Context, string, string) (string, error) {
	return "", key.NotFound("secret", "")
}

type noNonces struct{}

func (noNonces) UseNonce(context.Context, string, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

type nullSink struct{}

func (nullSink) AddUsage(context.Context, string, key.UsageDay, string) error { return nil }
func (nullSink) SetLastUsed(context.Context, string, time.Time, string) (bool, error) {
	return true, nil
}

// The whole authorize function on a warm container, in process: the HTTP
// API event parsed, the decision (key cached), the usage count, the log
// line and the response, for the golden bearer event.
//
//	go test -run '^$' -bench Handle -benchmem ./internal/authorizer
func BenchmarkHandleBearerCached(b *testing.B) {
	iss, err := key.New(key.NewParams{MerchantID: "m_1", Name: "bench", Environment: key.EnvTest,
		Scopes: []string{"payments:*"}}, "11111111-2222-4333-8444-555555555555", time.Now())
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("../../events/authorize/http-bearer.json")
	if err != nil {
		b.Fatal(err)
	}
	event := json.RawMessage(strings.Replace(string(raw), "paykeys_sk_test_PLACEHOLDER", iss.Secret, 1))
	routes, err := authorizer.ParseRoutes("GET /demo/{proxy+}=payments:read;ANY /demo/{proxy+}=payments:write")
	if err != nil {
		b.Fatal(err)
	}
	rec := usage.New(nullSink{}, usage.Options{FlushInterval: time.Hour})
	defer rec.Close(context.Background())
	h := &authorizer.Handler{
		Engine: authz.New(oneKey{iss.Key}, noSecrets{}, noNonces{}, authz.Options{}), Routes: routes,
		Environment: key.EnvTest, Log: slog.New(slog.NewJSONHandler(discard{}, nil)), Usage: rec,
	}
	ctx := context.Background()
	out, err := h.Handle(ctx, event)
	if err != nil || !strings.Contains(mustJSON(b, out), `"isAuthorized":true`) {
		b.Fatalf("not allowed: %v %v", mustJSON(b, out), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := h.Handle(ctx, event); err != nil {
			b.Fatal(err)
		}
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

func mustJSON(b *testing.B, v any) string {
	out, err := json.Marshal(v)
	if err != nil {
		b.Fatal(err)
	}
	return string(out)
}
