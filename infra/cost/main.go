// Command cost prints the monthly AWS cost of a deployment from list prices,
// for both secret stores: one Secrets Manager secret per key, and envelope
// encryption (one key-encryption key in Secrets Manager, ciphertexts in
// DynamoDB). make cost KEYS=… RPS=… HMAC_SHARE=… CONTAINERS=… runs it; the
// README's Cost section has its table and its assumptions.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

func main() {
	var in Inputs
	flag.Float64Var(&in.Keys, "keys", 100000, "keys in the table")
	flag.Float64Var(&in.RPS, "rps", 100, "authorizer decisions per second, monthly average")
	flag.Float64Var(&in.HMACShare, "hmac-share", 0.2, "share of requests that are HMAC-signed, 0..1")
	flag.Float64Var(&in.Containers, "containers", 10, "warm authorizer containers")
	table := flag.Bool("table", false, "print the README's table (10k, 100k and 1M keys) instead")
	flag.Parse()
	if err := run(os.Stdout, in, *table); err != nil {
		fmt.Fprintln(os.Stderr, "cost:", err)
		os.Exit(2)
	}
}

func run(w io.Writer, in Inputs, table bool) error {
	if in.Keys < 1 || in.RPS < 0 || in.HMACShare < 0 || in.HMACShare > 1 || in.Containers < 1 {
		return errors.New("need KEYS >= 1, RPS >= 0, HMAC_SHARE in 0..1 and CONTAINERS >= 1")
	}
	fmt.Fprintf(w, "AWS list prices of %s; 30-day month.\n", PriceDate)
	if table {
		fmt.Fprintf(w, "RPS=%g HMAC_SHARE=%g CONTAINERS=%g\n\n", in.RPS, in.HMACShare, in.Containers)
		fmt.Fprintln(w, "| keys | per-key Secrets Manager | envelope | of which Secrets Manager (per-key / envelope) |")
		fmt.Fprintln(w, "|---:|---:|---:|---:|")
		for _, k := range []float64{1e4, 1e5, 1e6} {
			in.Keys = k
			lines := Estimate(in, Defaults, ListPrices)
			perKey, env := Total(lines)
			fmt.Fprintf(w, "| %s | $%s | $%s | $%s / $%s |\n", count(k), money(perKey), money(env), money(lines[0].PerKey), money(lines[0].Envelop))
		}
		return nil
	}
	fmt.Fprintf(w, "KEYS=%g RPS=%g HMAC_SHARE=%g CONTAINERS=%g\n\n", in.Keys, in.RPS, in.HMACShare, in.Containers)
	lines := Estimate(in, Defaults, ListPrices)
	fmt.Fprintf(w, "%-42s %14s %14s\n", "monthly, USD", "per-key SM", "envelope")
	for _, l := range lines {
		fmt.Fprintf(w, "%-42s %14s %14s\n", l.Part, money(l.PerKey), money(l.Envelop))
	}
	perKey, env := Total(lines)
	fmt.Fprintf(w, "%-42s %14s %14s\n", "total", money(perKey), money(env))
	return nil
}

func money(v float64) string { return fmt.Sprintf("%.2f", v) }

func count(k float64) string {
	switch {
	case k >= 1e6:
		return fmt.Sprintf("%gM", k/1e6)
	case k >= 1e3:
		return fmt.Sprintf("%gk", k/1e3)
	}
	return fmt.Sprintf("%g", k)
}
