// Command authorize is the API Gateway custom authorizer for the payment API.
// The handler lives in internal/authorizer, so the local gateway and the tests
// run the same code; internal/app/authorizefn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/authorizefn"
	"github.com/paykeys/paykeys/internal/app/start"
)

func main() { start.MainFlushing(authorizefn.New) }
