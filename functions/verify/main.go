// Command verify is the verify Lambda function of the management API. The
// handler lives in internal/api, so the local gateway and the tests run the
// same code; internal/app/verifyfn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/start"
	"github.com/paykeys/paykeys/internal/app/verifyfn"
)

func main() { start.MainFlushing(verifyfn.New) }
