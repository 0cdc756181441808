// Command demo is the example payment backend behind the authorizer.
package main

import (
	"os"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/demo"
)

func main() { lambda.Start(demo.Handler{Log: app.Logger(os.Stdout, 0)}.Handle) }
