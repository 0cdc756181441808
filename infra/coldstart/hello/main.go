// Command hello is the floor infra/coldstart measures the functions against:
// the smallest aws-lambda-go function, answering every event with a constant.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, json.RawMessage) (string, error) { return "hello", nil })
}
