package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/paykeys/paykeys/internal/awsclient"
	"github.com/paykeys/paykeys/internal/store"
)

// runInvoke implements `gateway invoke <function> -event <file>`: one
// invocation of the function's real bootstrap under the Runtime Interface
// Emulator (RIE, LAMBDA_BIN as for emulator mode), against the local stack
// and with make dev's settings. The response goes to stdout; a function
// error is printed as the runtime reports it and exits 1.
func runInvoke(args []string, getenv func(string) string, stdout, stderr io.Writer, logger *slog.Logger) int {
	fs := flag.NewFlagSet("invoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway invoke <function> -event <file> [-template template.yaml]")
		fs.PrintDefaults()
	}
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		fs.Usage()
		return 2
	}
	name := args[0]
	eventFile := fs.String("event", "", "the event, a JSON file")
	template := fs.String("template", envOr(getenv, "TEMPLATE", "template.yaml"), "SAM template (env TEMPLATE)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *eventFile == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	payload, err := os.ReadFile(*eventFile)
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 2
	}
	rie, binDir, _, err := emulatorSettings(getenv)
	if err == nil && rie == "" {
		err = errors.New("RIE (the emulator binary) is not set; run it with make invoke-<function>")
	}
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 2
	}
	fns, err := templateFunctions(*template)
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	var fn *templateFunction
	for i := range fns {
		if fns[i].Name == name {
			fn = &fns[i]
		}
	}
	if fn == nil {
		fmt.Fprintf(stderr, "invoke: %s has no function %q\n", *template, name)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	region := envOr(getenv, "AWS_REGION", defaultRegion)
	awsCfg, err := awsclient.Load(ctx, awsclient.Options{Region: region, DynamoDBEndpoint: getenv("DYNAMODB_ENDPOINT")})
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	table := localGetenv(getenv)("TABLE_NAME")
	if err := store.CreateTable(ctx, awsclient.DynamoDB(awsCfg, getenv("DYNAMODB_ENDPOINT")), table); err != nil {
		fmt.Fprintf(stderr, "invoke: table %s (is the local stack up?): %v\n", table, err)
		return 1
	}
	es, err := startEmulators(ctx, []templateFunction{*fn}, emulatorOptions{
		rie: rie, binDir: binDir, pool: 1, getenv: getenv, region: region, log: logger, out: stderr,
		debug: true, // one invocation: its START, END and REPORT lines are worth seeing
	})
	if err != nil {
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	defer es.close()
	ctx, cancel := context.WithTimeout(ctx, fn.Timeout+emulatorStartTimeout)
	defer cancel()
	out, err := es.pools[name].Invoke(ctx, payload)
	var fe *functionError
	switch {
	case errors.As(err, &fe):
		fmt.Fprintf(stdout, "{\"errorMessage\":%q,\"errorType\":%q}\n", fe.Message, fe.Type)
		return 1
	case err != nil:
		fmt.Fprintln(stderr, "invoke:", err)
		return 1
	}
	fmt.Fprintln(stdout, string(out))
	return 0
}
