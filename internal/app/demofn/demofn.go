// Package demofn builds the example payment backend (demo). It reads nothing
// and links no AWS SDK.
package demofn

import (
	"context"
	"log/slog"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/config"
	"github.com/paykeys/paykeys/internal/demo"
)

// New builds the demo function.
func New(_ context.Context, _ config.Config, log *slog.Logger) (apigw.Handler, error) {
	return demo.Handler{Log: log}.Handle, nil
}
