// Command webhook delivers webhook events: it fans out outbox events from the
// table's stream and, on a schedule, sends whatever is due (retries included).
// The handler lives in internal/delivery; internal/app/webhookfn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/start"
	"github.com/paykeys/paykeys/internal/app/webhookfn"
)

func main() { start.Main(webhookfn.New) }
