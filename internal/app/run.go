package app

import (
	"context"
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/config"
)

// MustNew loads the configuration from the environment and builds the App,
// exiting with a logged reason when it cannot: a Lambda that cannot start
// should fail its init, loudly.
func MustNew() *App {
	cfg, err := config.Load(os.Getenv)
	if err == nil {
		var a *App
		if a, err = New(context.Background(), cfg, os.Stdout); err == nil {
			return a
		}
	}
	Logger(os.Stderr, 0).Error("startup failed", "error", err.Error())
	os.Exit(1)
	return nil
}

// RunHTTP starts the Lambda runtime loop for one management API function.
func RunHTTP(function string) {
	lambda.Start(MustNew().HTTP(function))
}

// RunAuthorizer starts the Lambda runtime loop for the authorize function.
func RunAuthorizer() {
	a := MustNew()
	h, err := a.Authorizer()
	if err != nil {
		a.Log.Error("startup failed", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(h.Handle)
}

// RunWebhook starts the Lambda runtime loop for the webhook delivery
// function (table stream batches and scheduled sweeps).
func RunWebhook() { lambda.Start(MustNew().Worker.Handle) }
