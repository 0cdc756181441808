// Command webhooks is the webhooks Lambda function of the management API. The handler
// lives in internal/api, so the local gateway and the tests run the same code;
// internal/app/managefn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/managefn"
	"github.com/paykeys/paykeys/internal/app/start"
)

func main() { start.Main(managefn.Webhooks) }
