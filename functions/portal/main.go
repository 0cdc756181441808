// Command portal serves the reference merchant portal's pages under
// /portal/ on the management API. The pages live in internal/portal;
// internal/app/portalfn builds the handler.
package main

import (
	"github.com/paykeys/paykeys/internal/app/portalfn"
	"github.com/paykeys/paykeys/internal/app/start"
)

func main() { start.Main(portalfn.New) }
