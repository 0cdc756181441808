package rotate

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// Handle is the rotate function's handler for EventBridge's scheduled
// event: one run, whatever the event says. Lambda's deadline bounds the
// run, which stops StopMargin before it. The stats are the invocation's
// result; an error (keys left due by failures, an unreadable index) marks
// the invocation failed, and the next scheduled run picks up what is left.
func (j *Job) Handle(ctx context.Context, _ events.EventBridgeEvent) (Stats, error) {
	return j.Run(ctx)
}
