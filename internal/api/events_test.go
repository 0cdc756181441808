package api

import (
	"encoding/json"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-lambda-go/events"
)

// TestSampleEventsRegisterOnlyLoopback: make invoke-webhooks runs these
// events on make dev's table, which accepts any address, so an endpoint a
// sample event registers must be a local receiver, never a host elsewhere.
func TestSampleEventsRegisterOnlyLoopback(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "events", "webhooks", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no sample events in events/webhooks: %v", err)
	}
	seen := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(raw, &ev); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var body struct {
			URL *string `json:"url"`
		}
		if ev.Body == "" || json.Unmarshal([]byte(ev.Body), &body) != nil || body.URL == nil {
			continue
		}
		seen++
		u, err := url.Parse(*body.URL)
		if err != nil || net.ParseIP(u.Hostname()) == nil || !net.ParseIP(u.Hostname()).IsLoopback() {
			t.Errorf("%s registers %q: a sample endpoint must be on 127.0.0.1", filepath.Base(f), *body.URL)
		}
	}
	if seen == 0 {
		t.Error("no sample event registers an endpoint; the check checked nothing")
	}
}
