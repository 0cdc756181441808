// Package start is what every Lambda function's main shares: the
// configuration from the environment, the JSON logger and the runtime loop.
// It links no AWS SDK, so the smallest function stays small.
package start

import (
	"context"
	"io"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/redact"
)

// Builder builds one function's handler and the runtime options it needs,
// making no network call. The handler is anything lambda.Start accepts.
type Builder[H any] func(ctx context.Context, cfg config.Config, log *slog.Logger) (H, []lambda.Option, error)

// Main loads the configuration from the environment, builds the function
// and runs the Lambda runtime loop. A function that cannot be built logs why
// and exits 1: a Lambda that cannot start should fail its init, loudly.
func Main[H any](build Builder[H]) {
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		var h H
		var opts []lambda.Option
		if h, opts, err = build(context.Background(), cfg, Logger(os.Stdout, cfg.LogLevel)); err == nil {
			lambda.StartWithOptions(h, opts...)
			return
		}
	}
	Logger(os.Stderr, 0).Error("startup failed", "error", err.Error())
	os.Exit(1)
}

// Logger is the JSON logger every function writes one line per decision to.
// Anything shaped like a secret, in the message or any attribute, is
// redacted before it is written.
func Logger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(redact.Handler(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level})))
}
