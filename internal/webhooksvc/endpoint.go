// Package webhooksvc manages merchants' webhook endpoints: registration,
// changes, signing-secret rotation with an overlap, test events and
// redelivery. The rules are internal/hook's; delivery itself is
// internal/delivery's.
package webhooksvc

import (
	"context"
	"errors"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/webhook"
)

// URLs checks endpoint URLs with a webhook sender's registration check, as
// 400s.
type URLs struct{ Sender *webhook.Sender }

// CheckURL refuses a URL the sender would not deliver to.
func (u URLs) CheckURL(ctx context.Context, raw string) error {
	err := u.Sender.CheckHost(ctx, raw)
	// The sender's messages name the host; a message never echoes what the
	// caller sent, so these say what is wrong without it.
	switch {
	case errors.Is(err, webhook.ErrInvalidURL):
		return key.Invalid("%s", err.Error())
	case errors.Is(err, webhook.ErrForbiddenAddress):
		return key.Invalid("url host is, or resolves to, a private, loopback or reserved address")
	case errors.Is(err, webhook.ErrUnresolvable):
		return key.Invalid("url host does not resolve")
	}
	return err
}
