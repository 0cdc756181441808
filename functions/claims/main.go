// Command claims is the optional portal user pool's pre token
// generation trigger: it adds merchant_id and role to the ID token from
// attributes only administrators can write. The code lives in
// internal/portal; internal/app/portalfn builds it.
package main

import (
	"github.com/paykeys/paykeys/internal/app/portalfn"
	"github.com/paykeys/paykeys/internal/app/start"
)

func main() { start.Main(portalfn.NewClaims) }
