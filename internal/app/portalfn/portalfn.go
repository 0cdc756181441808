// Package portalfn builds the portal function: the merchant portal's pages,
// embedded in the binary. It reads nothing and links no AWS SDK.
package portalfn

import (
	"context"
	"log/slog"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/portal"
)

// New builds the portal function.
func New(_ context.Context, cfg config.Config, _ *slog.Logger) (apigw.Handler, error) {
	h, err := portal.New(cfg)
	if err != nil {
		return nil, err
	}
	return h.Handle, nil
}

// NewClaims builds the claims function, the optional user pool's pre
// token generation trigger.
func NewClaims(_ context.Context, _ config.Config, _ *slog.Logger) (ClaimsHandler, error) {
	return portal.Claims, nil
}

// ClaimsHandler is a Cognito pre token generation trigger.
type ClaimsHandler = func(context.Context, events.CognitoEventUserPoolsPreTokenGen) (events.CognitoEventUserPoolsPreTokenGen, error)
