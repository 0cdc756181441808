// Command authorize is the API Gateway custom authorizer for the payment API.
// The handler lives in internal/authorizer, so the local gateway and the tests
// run the same code.
package main

import "github.com/paykeys/paykeys/internal/app"

func main() { app.RunAuthorizer() }
