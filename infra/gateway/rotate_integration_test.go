//go:build integration

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/testenv"
)

// TestRotateSubcommand runs `gateway rotate` once against the local stack,
// on a table of its own, and `gateway rotate-load` on a few keys.
func TestRotateSubcommand(t *testing.T) {
	db := testenv.Dynamo(t)
	testenv.Secrets(t)
	table := testenv.UniqueName(t, "gw-rotate-")
	t.Cleanup(func() {
		_, _ = db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	getenv := func(name string) string {
		switch name {
		case "TABLE_NAME":
			return table
		case "SECRET_PREFIX":
			// Its own: the run's orphan sweep deletes old secrets under
			// the prefix that this fresh table does not name (make dev's).
			return table + "/"
		case "LOG_LEVEL":
			return "warn"
		}
		return os.Getenv(name)
	}
	var out, errOut bytes.Buffer
	if code := run(testenv.Context(t), []string{"rotate"}, getenv, &out, &errOut, nil); code != 0 {
		t.Fatalf("rotate exit %d: %s", code, errOut.String())
	}
	var st struct {
		Pages      int  `json:"pages"`
		IndexItems *int `json:"index_items"`
	}
	if err := json.Unmarshal(out.Bytes(), &st); err != nil || st.Pages != 1 || st.IndexItems == nil {
		t.Errorf("stats %s (%v)", out.String(), err)
	}

	out.Reset()
	errOut.Reset()
	code := run(testenv.Context(t), []string{"rotate-load", "-keys", "200", "-due", "0.2", "-table", testenv.UniqueName(t, "gw-rotate-load-")}, getenv, &out, &errOut, nil)
	if code != 0 || !strings.Contains(out.String(), "read 40 due index items") {
		t.Errorf("rotate-load exit %d:\n%s\n%s", code, out.String(), errOut.String())
	}
}

func TestRotateSubcommandArgs(t *testing.T) {
	var out, errOut bytes.Buffer
	for _, args := range [][]string{{"rotate", "extra"}, {"rotate", "-nope"}, {"rotate-load", "-keys", "0"}} {
		if code := run(context.Background(), args, os.Getenv, &out, &errOut, nil); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}
