package main

import (
	"context"
	"time"

	"github.com/paykeys/paykeys/internal/app"
)

// closeTimeout bounds writing the usage counts still in memory at shutdown.
const closeTimeout = 5 * time.Second

// closeApp writes what the application still holds in memory (usage
// counts) before the gateway exits.
func closeApp(a *app.App) {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		a.Log.Warn("usage counts not written at shutdown", "error", err.Error())
	}
}
