// Command webhooks is the Lambda function serving the webhook endpoint routes
// of the management API. The handler lives in internal/api, so the local
// gateway and the tests run the same code.
package main

import "github.com/paykeys/paykeys/internal/app"

func main() { app.RunHTTP("webhooks") }
