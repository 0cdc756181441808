package rotate

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
)

// Handle is the rotate function's handler for EventBridge's scheduled
// event, or an operator's invocation with a Request in the detail: one run.
// Lambda's deadline bounds the run, which stops StopMargin before it. The
// stats are the invocation's result; an error (a failed request, keys left
// due by failures, an unreadable index) marks the invocation failed, and
// the next scheduled run picks up what is left. A detail that is not a
// Request fails the invocation before anything runs.
func (j *Job) Handle(ctx context.Context, e events.EventBridgeEvent) (Stats, error) {
	req, err := ParseRequest(e)
	if err != nil {
		return Stats{}, err
	}
	return j.RunRequest(ctx, req)
}
