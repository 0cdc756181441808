// Command rotate is the scheduled lifecycle function: EventBridge fires it
// on the RotateSchedule rate. The job lives in internal/rotate, so the local
// gateway (`make invoke-rotate`) and the tests run the same code;
// internal/app/rotatefn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/rotatefn"
	"github.com/paykeys/paykeys/internal/app/start"
)

func main() { start.Main(rotatefn.New) }
