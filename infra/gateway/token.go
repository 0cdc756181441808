package main

import (
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// tokenRoles are the roles the management API knows.
var tokenRoles = []string{"root", "admin", "developer", "viewer"}

// runToken implements `gateway token`: it prints a local management API JWT
// (HS256, signed with DEV_JWT_SECRET) and nothing else on stdout, so that
// `TOKEN=$(go run ./infra/gateway token)` works.
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer, now func() time.Time) int {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway token [-merchant m_demo] [-role admin] [-sub user_dev] [-ttl 1h] [-scope '...']")
		fmt.Fprintln(stderr, "Prints an HS256 JWT signed with DEV_JWT_SECRET (default local-dev-secret).")
		fmt.Fprintln(stderr, "An empty -merchant, -role or -sub leaves that claim out; any other -role must be one of "+strings.Join(tokenRoles, ", ")+".")
		fs.PrintDefaults()
	}
	opts := TokenOptions{Issuer: localIssuer, Audience: localAudience}
	fs.StringVar(&opts.Merchant, "merchant", "m_demo", "merchant_id claim")
	fs.StringVar(&opts.Role, "role", "admin", "role claim: root, admin, developer or viewer")
	fs.StringVar(&opts.Subject, "sub", "user_dev", "sub claim (the portal user)")
	fs.StringVar(&opts.Scope, "scope", "", "scope claim, space-separated (optional)")
	fs.DurationVar(&opts.TTL, "ttl", time.Hour, "lifetime of the token")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "token: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return 2
	}
	if opts.Role != "" && !slices.Contains(tokenRoles, opts.Role) {
		fmt.Fprintf(stderr, "token: unknown role %q; use one of %s (an empty role leaves the claim out)\n",
			opts.Role, strings.Join(tokenRoles, ", "))
		return 2
	}
	opts.Now = now()
	tok, err := MintToken(devJWTSecret(getenv), opts)
	if err != nil {
		fmt.Fprintln(stderr, "token:", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// devJWTSecret is DEV_JWT_SECRET, or the local default when unset or empty.
func devJWTSecret(getenv func(string) string) []byte {
	if s := getenv("DEV_JWT_SECRET"); s != "" {
		return []byte(s)
	}
	return []byte(defaultDevJWTSecret)
}
