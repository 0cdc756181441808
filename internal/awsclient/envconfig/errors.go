package envconfig

import (
	"context"
	"errors"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"

	"github.com/paykeys/paykeys/internal/metrics"
)

// StoreErrors is the metric of the AWS calls that failed, after the SDK's
// retries, with the dimensions Store (the service: DynamoDB, Secrets
// Manager) and Operation (GetItem, GetSecretValue, …).
const StoreErrors = "StoreErrors"

// expected are the errors the stores answer in the ordinary course of
// things, which the code handles: a condition that did not hold (optimistic
// locking, idempotency, a used nonce), a secret or version that is gone or
// already there. They are not store errors.
var expected = map[string]bool{
	"ConditionalCheckFailedException": true,
	"TransactionCanceledException":    true, // a transaction's condition did not hold
	"ResourceNotFoundException":       true, // Secrets Manager: a destroyed secret or version
	"ResourceExistsException":         true, // Secrets Manager: created by an earlier try
	"InvalidRequestException":         true, // Secrets Manager: a secret scheduled for deletion
}

// countErrors adds the middleware that counts failed calls into m.
func countErrors(m *metrics.Set) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("paykeysStoreErrors",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				if storeError(ctx, err) {
					m.Add(StoreErrors, 1, "Store", awsmiddleware.GetServiceID(ctx), "Operation", awsmiddleware.GetOperationName(ctx))
				}
				return out, md, err
			}), middleware.After)
	}
}

// storeError reports whether err is a failure of the store, not an answer
// the caller expects or a call the caller gave up on.
func storeError(ctx context.Context, err error) bool {
	if err == nil || errors.Is(err, context.Canceled) && ctx.Err() != nil {
		return false
	}
	var ae smithy.APIError
	return !errors.As(err, &ae) || !expected[ae.ErrorCode()]
}
