package api

import (
	"context"
	_ "embed"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
)

// openAPI is the API's reference: the OpenAPI 3.1 document of every
// management route, POST /v1/verify and the webhook events. Tests keep it,
// the route table and template.yaml in step, and validate every request and
// response of the integration suite against it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the OpenAPI document, as served at GET /v1/openapi.json.
func OpenAPI() []byte { return append([]byte(nil), openAPI...) }

// openAPIDocument serves the document given as API.Document. It needs no
// token: it holds nothing of any merchant's.
func (h *API) openAPIDocument(_ context.Context, _ key.Actor, req apigw.Request) (apigw.Response, error) {
	if h.Document == nil {
		return apigw.Response{}, notFoundRoute(req)
	}
	return apigw.Response{
		StatusCode: 200,
		Headers:    map[string]string{"Content-Type": "application/json", "Cache-Control": "public, max-age=300"},
		Body:       string(h.Document),
	}, nil
}
