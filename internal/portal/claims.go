package portal

import (
	"context"
	"errors"
	"slices"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/key"
)

// roles are the roles the management API knows.
var roles = []string{"root", "admin", "developer", "viewer"}

// ErrNoMerchant refuses a sign-in whose user has no valid merchant or role:
// Cognito fails the sign-in when its trigger returns an error, so such a
// user never gets a token.
var ErrNoMerchant = errors.New("the user has no valid custom:merchant_id and custom:role")

// Claims is the optional user pool's pre token generation trigger: it puts
// the user's custom:merchant_id and custom:role attributes (which only
// administrators can write) into the ID token as merchant_id and role, the
// claims the management API reads.
func Claims(_ context.Context, ev events.CognitoEventUserPoolsPreTokenGen) (events.CognitoEventUserPoolsPreTokenGen, error) {
	merchant, role := ev.Request.UserAttributes["custom:merchant_id"], ev.Request.UserAttributes["custom:role"]
	if !key.ValidMerchantID(merchant) || !slices.Contains(roles, role) {
		return ev, ErrNoMerchant
	}
	ev.Response.ClaimsOverrideDetails.ClaimsToAddOrOverride = map[string]string{"merchant_id": merchant, "role": role}
	return ev, nil
}
