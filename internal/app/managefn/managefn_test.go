package managefn

import (
	"context"
	"log/slog"
	"testing"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/config"
)

// Only the keys function is given the OpenAPI document (the others do not
// link it), and it serves it without a token.
func TestOnlyKeysServesTheOpenAPIDocument(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test") // building the clients reads them; nothing is called
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cfg := config.Config{Region: "us-east-1", TableName: "t", SecretPrefix: "p/"}
	for _, fn := range Functions {
		t.Run(fn, func(t *testing.T) {
			h, err := API(context.Background(), cfg, slog.New(slog.DiscardHandler), fn)
			if err != nil {
				t.Fatal(err)
			}
			var req apigw.Request
			req.RouteKey = "GET /v1/openapi.json"
			resp, err := h.Function(fn)(context.Background(), req)
			want := 404
			if fn == "keys" {
				want = 200
			}
			if err != nil || resp.StatusCode != want {
				t.Fatalf("status %d, error %v; want %d", resp.StatusCode, err, want)
			}
			if fn == "keys" && resp.Body != string(api.OpenAPI()) {
				t.Fatal("keys served something other than the OpenAPI document")
			}
			if fn != "keys" && h.Document != nil {
				t.Fatal("a function other than keys holds the OpenAPI document")
			}
		})
	}
}
