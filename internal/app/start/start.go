// Package start is what every Lambda function's main shares: the
// configuration from the environment, the logger, the metrics flush and the
// runtime loop. It links no AWS SDK, so the smallest function stays small.
package start

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"

	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/metrics"
	"github.com/paykeys/paykeys/internal/redact"
)

// Builder builds one function's handler, making no network call. The
// handler is anything lambda.Start accepts; onSIGTERM, when not nil, runs
// when Lambda shuts the container down (the function then registers the
// extension that makes Lambda send SIGTERM; see enableSIGTERM).
type Builder[H any] func(ctx context.Context, cfg config.Config, log *slog.Logger) (h H, onSIGTERM func(), err error)

// Main loads the configuration from the environment, builds the function
// and runs the Lambda runtime loop, writing the metrics recorded during
// each invocation at its end (metrics.Set.FlushDue). A function that cannot
// be built logs why and exits 1: a Lambda that cannot start should fail its
// init, loudly.
func Main[H any](build Builder[H]) {
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		log := LambdaLogger()
		var h H
		var onSIGTERM func()
		if h, onSIGTERM, err = build(context.Background(), cfg, log); err == nil {
			if onSIGTERM != nil {
				if err := enableSIGTERM(os.Getenv("AWS_LAMBDA_RUNTIME_API"), onSIGTERM, log); err != nil {
					// As lambda.WithEnableSIGTERM does: the function still
					// serves, and whatever it keeps is lost at shutdown.
					log.Warn("SIGTERM is not enabled", "error", err.Error())
				}
			}
			lambda.Start(Flushing(lambda.NewHandler(h), metrics.Default()))
			return
		}
	}
	Logger(os.Stderr, 0).Error("startup failed", "error", err.Error())
	os.Exit(1)
}

// Flushing returns h, flushing m when each invocation ends.
func Flushing(h lambda.Handler, m *metrics.Set) lambda.Handler { return flushing{h, m} }

type flushing struct {
	next lambda.Handler
	m    *metrics.Set
}

func (f flushing) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	out, err := f.next.Invoke(ctx, payload)
	_ = f.m.FlushDue() // stdout; nothing to do if it fails
	return out, err
}

// LambdaLogger is the logger of a function running in Lambda: lambdacontext's
// handler, which adds the invocation's request ID (requestId) to every line
// logged with its context and follows AWS_LAMBDA_LOG_FORMAT (JSON or TEXT)
// and AWS_LAMBDA_LOG_LEVEL, which the template's LoggingConfig sets. Anything
// shaped like a secret is redacted before it reaches it.
func LambdaLogger() *slog.Logger {
	return slog.New(redact.Handler(lambdacontext.NewLogHandler()))
}

// Logger is the JSON logger of the functions run in process (the local
// gateway, tests): one line per decision, anything shaped like a secret,
// in the message or any attribute, redacted before it is written.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(redact.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}
