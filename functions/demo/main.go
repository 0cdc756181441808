// Command demo is the example payment backend behind the authorizer. The
// handler lives in internal/demo; internal/app/demofn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/demofn"
	"github.com/paykeys/paykeys/internal/app/start"
)

func main() { start.Main(demofn.New) }
