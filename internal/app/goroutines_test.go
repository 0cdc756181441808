package app_test

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/app/authorizefn"
	"github.com/paykeys/paykeys/internal/app/demofn"
	"github.com/paykeys/paykeys/internal/app/managefn"
	"github.com/paykeys/paykeys/internal/app/rotatefn"
	"github.com/paykeys/paykeys/internal/app/verifyfn"
	"github.com/paykeys/paykeys/internal/app/webhookfn"
	"github.com/paykeys/paykeys/internal/config"
)

// settle waits for goroutines that are ending to end, and counts the rest.
func settle() int {
	n := runtime.NumGoroutine()
	for range 50 {
		time.Sleep(2 * time.Millisecond)
		if m := runtime.NumGoroutine(); m == n {
			return n
		}
		n = runtime.NumGoroutine()
	}
	return n
}

// Building a function starts no goroutine, except the usage counters'
// writer in the two functions that decide; only they ask for SIGTERM.
func TestConstructorsStartOnlyWhatTheFunctionUses(t *testing.T) {
	cfg, err := config.Load(func(k string) string {
		return map[string]string{
			"TABLE_NAME": "t", "ENVIRONMENT": "test",
			"DYNAMODB_ENDPOINT": "http://127.0.0.1:1", "SECRETSMANAGER_ENDPOINT": "http://127.0.0.1:1",
			"ROUTE_SCOPES": "ANY /demo/{proxy+}=payments:write",
		}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	type built struct {
		h         any
		onSIGTERM func()
		err       error
	}
	flushing := func(h any, onSIGTERM func(), err error) built { return built{h, onSIGTERM, err} }
	plain := func(h any, err error) built { return built{h, nil, err} }
	log := slog.New(slog.NewJSONHandler(io.Discard, nil))
	ctx := context.Background()
	tests := []struct {
		name       string
		build      func() built
		goroutines int
		sigterm    bool
	}{
		{"authorize", func() built { return flushing(authorizefn.New(ctx, cfg, log)) }, 1, true},
		{"verify", func() built { return flushing(verifyfn.New(ctx, cfg, log)) }, 1, true},
		{"create", func() built { return plain(managefn.Create(ctx, cfg, log)) }, 0, false},
		{"keys", func() built { return plain(managefn.Keys(ctx, cfg, log)) }, 0, false},
		{"reset", func() built { return plain(managefn.Reset(ctx, cfg, log)) }, 0, false},
		{"webhooks", func() built { return plain(managefn.Webhooks(ctx, cfg, log)) }, 0, false},
		{"webhook", func() built { return plain(webhookfn.New(ctx, cfg, log)) }, 0, false},
		{"rotate", func() built { return plain(rotatefn.New(ctx, cfg, log)) }, 0, false},
		{"demo", func() built { return plain(demofn.New(ctx, cfg, log)) }, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := settle()
			b := tt.build()
			if b.err != nil || b.h == nil {
				t.Fatalf("build: %v, %v", b.h, b.err)
			}
			// The Lambda runtime takes a function, or a lambda.Handler.
			if _, ok := b.h.(lambda.Handler); !ok && reflect.TypeOf(b.h).Kind() != reflect.Func {
				t.Errorf("handler is a %T, which lambda.Start refuses", b.h)
			}
			if got := settle() - before; got != tt.goroutines {
				t.Errorf("%d goroutines started, want %d", got, tt.goroutines)
			}
			if asks := b.onSIGTERM != nil; asks != tt.sigterm {
				t.Errorf("asks for SIGTERM: %v, want %v", asks, tt.sigterm)
			}
		})
	}
}
