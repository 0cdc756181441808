package managefn

import (
	"context"
	"log/slog"
	"testing"

	"github.com/paykeys/paykeys/internal/api"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/config"
)

type builder func(context.Context, config.Config, *slog.Logger) (apigw.Handler, error)

// Each builder serves its own group of the route table and no other
// route; only the keys function serves the OpenAPI document, without a
// token.
func TestEachFunctionServesItsOwnRoutes(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test") // building the clients reads them; nothing is called
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	cfg := config.Config{Region: "us-east-1", TableName: "t", SecretPrefix: "p/"}
	tests := []struct {
		name   string
		build  builder
		routes []api.Route
	}{
		{"create", Create, api.CreateRoutes},
		{"keys", Keys, api.KeysRoutes},
		{"reset", Reset, api.ResetRoutes},
		{"webhooks", Webhooks, api.WebhooksRoutes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := tt.build(context.Background(), cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatalf("build: %v", err)
			}
			mine := map[string]bool{}
			for _, r := range tt.routes {
				mine[r.Key] = true
			}
			for _, r := range api.Routes() {
				var req apigw.Request
				req.RouteKey = r.Key
				resp, err := h(context.Background(), req)
				if err != nil {
					t.Fatalf("%s: %v", r.Key, err)
				}
				// Another function's route is not found; one of its own
				// asks for a token, or is served (the document).
				if notFound := resp.StatusCode == 404; notFound == mine[r.Key] {
					t.Errorf("%s: status %d, routes of %s: %v", r.Key, resp.StatusCode, tt.name, mine[r.Key])
				}
			}
			var req apigw.Request
			req.RouteKey = "GET /v1/openapi.json"
			resp, _ := h(context.Background(), req)
			if served := resp.StatusCode == 200 && resp.Body == string(api.OpenAPI()); served != (tt.name == "keys") {
				t.Errorf("OpenAPI document served: %v (status %d)", served, resp.StatusCode)
			}
		})
	}
}
