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
// handler is anything lambda.Start accepts.
type Builder[H any] func(ctx context.Context, cfg config.Config, log *slog.Logger) (H, error)

// FlushingBuilder builds the handler of a function that keeps in memory
// what it must write before Lambda shuts the container down, and onSIGTERM,
// which writes it.
type FlushingBuilder[H any] func(ctx context.Context, cfg config.Config, log *slog.Logger) (h H, onSIGTERM func(), err error)

// Main loads the configuration from the environment, builds the function
// and runs the Lambda runtime loop, writing the metrics recorded during
// each invocation at its end (metrics.Set.FlushDue). A function that cannot
// be built logs why and exits 1: a Lambda that cannot start should fail its
// init, loudly.
func Main[H any](build Builder[H]) {
	run(LambdaLogger(), build)
}

// MainFlushing is Main for a function that runs onSIGTERM when Lambda shuts
// the container down. Lambda sends SIGTERM only to a function with an
// extension registered (see enableSIGTERM); the registration is a round trip
// to the runtime API, so it runs while the function is built, and is done
// before the first request for an event, as Lambda requires.
func MainFlushing[H any](build FlushingBuilder[H]) {
	log := LambdaLogger()
	run(log, withSIGTERM(os.Getenv("AWS_LAMBDA_RUNTIME_API"), log, build))
}

// withSIGTERM returns build as a Builder that registers the SIGTERM
// extension at the runtime API api while build runs, returns when both are
// done, and has SIGTERM run the onSIGTERM build returned. A registration
// that fails is logged: as with lambda.WithEnableSIGTERM, the function still
// serves, and whatever it keeps is lost at shutdown.
func withSIGTERM[H any](api string, log *slog.Logger, build FlushingBuilder[H]) Builder[H] {
	onSIGTERM := make(chan func(), 1)
	registered := make(chan error, 1)
	go func() {
		registered <- enableSIGTERM(api, func() {
			if f := <-onSIGTERM; f != nil { // a SIGTERM during the build waits for it
				f()
			}
		}, log)
	}()
	return func(ctx context.Context, cfg config.Config, log *slog.Logger) (H, error) {
		h, f, err := build(ctx, cfg, log)
		if err != nil {
			onSIGTERM <- nil
			return h, err
		}
		onSIGTERM <- f
		if err := <-registered; err != nil {
			log.Warn("SIGTERM is not enabled", "error", err.Error())
		}
		return h, nil
	}
}

func run[H any](log *slog.Logger, build Builder[H]) {
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		var h H
		if h, err = build(context.Background(), cfg, log); err == nil {
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
