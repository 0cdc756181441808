// Command rotate is the scheduled lifecycle function: EventBridge fires it
// on the RotateSchedule rate. The job lives in internal/rotate, so the local
// gateway (`make invoke-rotate`) and the tests run the same code.
package main

import (
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/app"
)

func main() { lambda.Start(app.MustNew().Rotator().Handle) }
