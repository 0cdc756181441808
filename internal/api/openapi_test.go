package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/cfn"
)

// loadOpenAPI parses and validates the embedded document.
func loadOpenAPI(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("load openapi.json: %v", err)
	}
	return doc
}

// The document is valid OpenAPI 3.1, its examples included.
func TestOpenAPIDocumentIsValid(t *testing.T) {
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi = %q, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("openapi.json is not valid: %v", err)
	}
	if len(doc.Webhooks) == 0 {
		t.Error("the document has no webhooks section")
	}
}

// managementRoutes returns the route keys ("GET /v1/keys") of the template's
// HttpApi events on the management API, each with the function whose events
// list it (CreateFunction: "create"); the $default route (no path) is not
// one, nor are the portal's pages (PortalFunction, GET /portal/...), which
// share the API's origin but are not operations of the API.
func managementRoutes(template []byte) (map[string]string, error) {
	root, err := cfn.Parse(template)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for id, res := range cfn.Resources(root, "AWS::Serverless::Function") {
		if id == "PortalFunction" {
			continue
		}
		function := strings.ToLower(strings.TrimSuffix(id, "Function"))
		for _, ev := range cfn.Pairs(cfn.Get(cfn.Get(res, "Properties"), "Events")) {
			props := cfn.Get(ev, "Properties")
			if typ, _ := cfn.Scalar(cfn.Get(ev, "Type")); typ != "HttpApi" {
				continue
			}
			if api, _ := cfn.Ref(cfn.Get(props, "ApiId")); api != "ManagementApi" {
				continue
			}
			if path, ok := cfn.Scalar(cfn.Get(props, "Path")); ok && path != "" {
				method, _ := cfn.Scalar(cfn.Get(props, "Method"))
				out[strings.ToUpper(method)+" "+path] = function
			}
		}
	}
	return out, nil
}

// documentRoutes returns the route keys of the document's paths.
func documentRoutes(doc *openapi3.T) map[string]bool {
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+path] = true
		}
	}
	return out
}

// sameRoutes says which routes one of the three lists has and another lacks.
func sameRoutes(lists map[string]map[string]bool) error {
	var all []string
	for _, l := range lists {
		all = append(all, slices.Collect(maps.Keys(l))...)
	}
	slices.Sort(all)
	var problems []string
	for _, r := range slices.Compact(all) {
		var missing []string
		for _, name := range slices.Sorted(maps.Keys(lists)) {
			if !lists[name][r] {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			problems = append(problems, fmt.Sprintf("%s is missing from %s", r, strings.Join(missing, " and ")))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("routes differ: %s", strings.Join(problems, "; "))
	}
	return nil
}

func tableRoutes() map[string]bool {
	out := map[string]bool{}
	for _, r := range Routes() {
		out[r.Key] = true
	}
	return out
}

// sameFunctions says which routes the template gives to another function
// than the route table does.
func sameFunctions(fromTemplate map[string]string) error {
	var problems []string
	for _, r := range Routes() {
		if f, ok := fromTemplate[r.Key]; ok && f != r.Function {
			problems = append(problems, fmt.Sprintf("%s is served by %s in the template, by %s in the route table", r.Key, f, r.Function))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("functions differ: %s", strings.Join(problems, "; "))
	}
	return nil
}

// template.yaml, the route table and the document list the same routes, so
// none can be added to one and forgotten in another; a route added to a copy
// of the template alone is caught.
func TestRoutesOfTemplateTableAndDocumentAgree(t *testing.T) {
	template, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	doc := loadOpenAPI(t)
	extra := strings.Replace(string(template), "      Events:\n        List:\n",
		"      Events:\n        Stats:\n          Type: HttpApi\n          Properties: {ApiId: !Ref ManagementApi, Method: GET, Path: /v1/keys/stats}\n        List:\n", 1)
	otherMethod := strings.Replace(string(template), "Method: DELETE, Path: \"/v1/webhooks/{id}\"", "Method: PUT, Path: \"/v1/webhooks/{id}\"", 1)
	otherFunction := strings.Replace(string(template), "\n  ResetFunction:\n", "\n  RenewFunction:\n", 1)
	tests := []struct {
		name     string
		template string
		wantErr  string // "" = they agree
	}{
		{"the template as it is", string(template), ""},
		{"a route added to the template only", extra, "GET /v1/keys/stats is missing from document and route table"},
		{"a method changed in the template only", otherMethod, "DELETE /v1/webhooks/{id} is missing from template"},
		{"a route given to another function in the template only", otherFunction, "POST /v1/keys/{id}/reset is served by renew in the template, by reset in the route table"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.template == string(template) && tt.wantErr != "" {
				t.Fatal("the modified copy is the template itself: the edit did not apply")
			}
			fromTemplate, err := managementRoutes([]byte(tt.template))
			if err != nil {
				t.Fatal(err)
			}
			if len(fromTemplate) < 19 {
				t.Fatalf("found only %d routes in the template: %v", len(fromTemplate), fromTemplate)
			}
			templateRoutes := map[string]bool{}
			for k := range fromTemplate {
				templateRoutes[k] = true
			}
			err = errors.Join(sameRoutes(map[string]map[string]bool{
				"template": templateRoutes, "route table": tableRoutes(), "document": documentRoutes(doc),
			}), sameFunctions(fromTemplate))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatal(err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("error = %v, want one saying %q", err, tt.wantErr)
			}
		})
	}
}

// Each operation says which roles may call it, in x-roles and in its
// description, as the route table decides; and each has an example.
func TestOpenAPIRolesAndExamples(t *testing.T) {
	doc := loadOpenAPI(t)
	table := map[string]Route{}
	for _, r := range Routes() {
		table[r.Key] = r
	}
	rolesOf := map[apigw.Permission][]string{
		apigw.Read:   {"root", "admin", "developer", "viewer"},
		apigw.Verify: {"root", "admin", "developer"},
		apigw.Write:  {"root", "admin"},
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			route := method + " " + path
			t.Run(route, func(t *testing.T) {
				r, ok := table[route]
				if !ok {
					t.Fatal("not in the route table")
				}
				want := []string{}
				if !r.Service {
					want = rolesOf[r.Need]
				}
				raw, ok := op.Extensions["x-roles"].([]any)
				if !ok {
					t.Fatalf("x-roles = %#v, want a list", op.Extensions["x-roles"])
				}
				got := make([]string, 0, len(raw))
				for _, v := range raw {
					s, _ := v.(string)
					got = append(got, s)
				}
				if !slices.Equal(got, want) {
					t.Errorf("x-roles = %v, want %v", got, want)
				}
				switch {
				case r.Service && op.Security == nil:
					t.Error("a route without a JWT must override the document's security")
				case !r.Service && op.Security != nil:
					t.Error("a JWT route must keep the document's security")
				}
				if !r.Service {
					if len(want) == 4 && !strings.Contains(op.Description, "Roles: any.") ||
						len(want) < 4 && !strings.Contains(op.Description, "Roles: "+strings.Join(want, ", ")+".") {
						t.Errorf("the description does not name the roles %v", want)
					}
				}
				if !hasExample(op) {
					t.Error("no example")
				}
			})
		}
	}
}

func hasExample(op *openapi3.Operation) bool {
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		for _, mt := range op.RequestBody.Value.Content {
			if mt.Example != nil || len(mt.Examples) > 0 {
				return true
			}
		}
	}
	for _, resp := range op.Responses.Map() {
		if resp.Value == nil {
			continue
		}
		for _, mt := range resp.Value.Content {
			if mt.Example != nil || len(mt.Examples) > 0 {
				return true
			}
		}
	}
	return false
}

// GET /v1/openapi.json is served by the keys function without a token, and
// only there.
func TestOpenAPIServed(t *testing.T) {
	h := &API{Log: slog.New(slog.DiscardHandler), Document: OpenAPI()}
	tests := []struct {
		function   string
		wantStatus int
	}{
		{"keys", 200},
		{"create", 404},
		{"webhooks", 404},
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			var req apigw.Request
			req.RouteKey = "GET /v1/openapi.json"
			resp, err := h.Function(tt.function)(context.Background(), req)
			if err != nil || resp.StatusCode != tt.wantStatus {
				t.Fatalf("status %d, error %v; want %d", resp.StatusCode, err, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if resp.Headers["Content-Type"] != "application/json" || resp.Body != string(OpenAPI()) {
				t.Errorf("content type %q, %d bytes; want the document as JSON", resp.Headers["Content-Type"], len(resp.Body))
			}
		})
	}
}
