package main

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestLoadTemplateFixture(t *testing.T) {
	routes, warnings, err := LoadTemplate("testdata/template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 0 {
		t.Errorf("warnings = %q, want none", warnings)
	}
	type want struct {
		function string
		api      string
		auth     AuthKind
		timeout  time.Duration
	}
	wants := map[string]want{
		"POST /v1/keys":             {"create", "ManagementApi", AuthJWT, 10 * time.Second},
		"GET /v1/keys":              {"keys", "ManagementApi", AuthJWT, 20 * time.Second},
		"GET /v1/keys/{id}":         {"keys", "ManagementApi", AuthJWT, 20 * time.Second},
		"PATCH /v1/keys/{id}":       {"keys", "ManagementApi", AuthJWT, 20 * time.Second},
		"DELETE /v1/keys/{id}":      {"keys", "ManagementApi", AuthJWT, 20 * time.Second},
		"GET /v1/keys/{id}/usage":   {"keys", "ManagementApi", AuthJWT, 20 * time.Second},
		"GET /v1/audit":             {"keys", "ManagementApi", AuthJWT, 20 * time.Second},
		"POST /v1/keys/{id}/reset":  {"reset", "ManagementApi", AuthJWT, 10 * time.Second},
		"POST /v1/keys/{id}/verify": {"verify", "ManagementApi", AuthJWT, 10 * time.Second},
		"POST /v1/verify":           {"verify", "ManagementApi", AuthNone, 10 * time.Second},
		"ANY /demo/{proxy+}":        {"demo", "PaymentApi", AuthLambda, 10 * time.Second},
	}
	got := map[string]Route{}
	for _, r := range routes {
		got[r.Key()] = r
	}
	if len(got) != len(routes) {
		t.Errorf("duplicate route keys in %v", routes)
	}
	for key, w := range wants {
		r, ok := got[key]
		if !ok {
			t.Errorf("route %q missing", key)
			continue
		}
		if r.Function != w.function || r.API != w.api || r.Auth.Kind != w.auth || r.Timeout != w.timeout {
			t.Errorf("route %q = function %q api %q auth %v timeout %s, want %q %q %v %s",
				key, r.Function, r.API, r.Auth.Kind, r.Timeout, w.function, w.api, w.auth, w.timeout)
		}
	}
	for key := range got {
		if _, ok := wants[key]; !ok {
			t.Errorf("unexpected route %q", key)
		}
	}

	if a := got["POST /v1/keys"].Auth; a.Authorizer != "PortalJwt" || a.TokenHeader != "authorization" {
		t.Errorf("create auth = %+v, want default authorizer PortalJwt reading authorization", a)
	}
	if a := got["POST /v1/verify"].Auth; a.Authorizer != "AWS_IAM" {
		t.Errorf("service verify authorizer = %q, want AWS_IAM", a.Authorizer)
	}
	demo := got["ANY /demo/{proxy+}"]
	wantAuth := RouteAuth{
		Kind: AuthLambda, Authorizer: "KeyAuthorizer", TokenHeader: "authorization",
		Function: "authorize", PayloadVersion: "2.0", SimpleResponses: true, Timeout: 5 * time.Second,
	}
	if !reflect.DeepEqual(demo.Auth, wantAuth) {
		t.Errorf("demo auth = %+v, want %+v", demo.Auth, wantAuth)
	}
	if demo.IntegrationTimeout != 5*time.Second {
		t.Errorf("demo integration timeout = %s, want 5s", demo.IntegrationTimeout)
	}
	if !reflect.DeepEqual(demo.StageVariables, map[string]string{"environment": "test"}) {
		t.Errorf("demo stage variables = %v", demo.StageVariables)
	}
	if got["GET /v1/keys"].IntegrationTimeout != 30*time.Second {
		t.Errorf("default integration timeout = %s, want 30s", got["GET /v1/keys"].IntegrationTimeout)
	}
}

func TestParseTemplateCases(t *testing.T) {
	tests := []struct {
		name     string
		yaml     string
		wantErr  string
		warnings []string // substrings, in order
		check    func(t *testing.T, routes []Route)
	}{
		{
			name:    "not yaml",
			yaml:    "Resources: [",
			wantErr: "parse template",
		},
		{
			name:    "empty",
			yaml:    "",
			wantErr: "not a YAML mapping",
		},
		{
			name:    "no resources",
			yaml:    "Outputs: {}",
			wantErr: "no Resources",
		},
		{
			name: "implicit api, globals authorizer, $default route, long-form GetAtt",
			yaml: `
Globals:
  HttpApi:
    Auth:
      DefaultAuthorizer: Keys
      Authorizers:
        Keys:
          FunctionArn: {"Fn::GetAtt": [AuthzFunction, Arn]}
          AuthorizerPayloadFormatVersion: 1.0
          Identity: {Headers: [X-API-Key], QueryStrings: [token]}
Resources:
  AuthzFunction: {Type: AWS::Serverless::Function, Properties: {CodeUri: .}}
  CatchAllFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        All: {Type: HttpApi}
`,
			check: func(t *testing.T, routes []Route) {
				if len(routes) != 1 {
					t.Fatalf("routes = %v", routes)
				}
				r := routes[0]
				if r.Key() != "$default" || r.API != implicitHTTPAPI || r.Function != "catchall" {
					t.Errorf("route = %+v", r)
				}
				want := RouteAuth{
					Kind: AuthLambda, Authorizer: "Keys", TokenHeader: "authorization", Function: "authz",
					PayloadVersion: "1.0", IdentityHeaders: []string{"x-api-key"}, IdentityQueryStrings: []string{"token"},
					Timeout: defaultFunctionTimeout,
				}
				if !reflect.DeepEqual(r.Auth, want) {
					t.Errorf("auth = %+v, want %+v", r.Auth, want)
				}
			},
		},
		{
			name: "Sub FunctionArn, JWT identity source and scopes",
			yaml: `
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth:
        Authorizers:
          Lambda:
            FunctionArn: !Sub "${CheckFunction.Arn}"
            AuthorizerPayloadFormatVersion: "2.0"
          Jwt:
            IdentitySource: $request.header.X-Portal-Token
            AuthorizationScopes: [keys/read]
            JwtConfiguration: {issuer: !Sub "https://${AWS::Region}.example", audience: [a]}
  CheckFunction: {Type: AWS::Serverless::Function}
  OneFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: GET, Auth: {Authorizer: Lambda}}}
        B: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /b, Method: GET, Auth: {Authorizer: Jwt}}}
        C: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /c, Method: GET, Auth: {Authorizer: Jwt, AuthorizationScopes: [keys/write]}}}
`,
			check: func(t *testing.T, routes []Route) {
				if len(routes) != 3 {
					t.Fatalf("routes = %v", routes)
				}
				if a := routes[0].Auth; a.Kind != AuthLambda || a.Function != "check" || a.SimpleResponses {
					t.Errorf("lambda auth = %+v", a)
				}
				if a := routes[1].Auth; a.Kind != AuthJWT || a.TokenHeader != "x-portal-token" || !reflect.DeepEqual(a.Scopes, []string{"keys/read"}) {
					t.Errorf("jwt auth = %+v", a)
				}
				if a := routes[2].Auth; !reflect.DeepEqual(a.Scopes, []string{"keys/write"}) {
					t.Errorf("route scopes should win over the authorizer's: %+v", a)
				}
			},
		},
		{
			name: "warnings: REST event, payload 1.0, no authorizer, unknown authorizer, tagged path",
			yaml: `
Resources:
  Api: {Type: AWS::Serverless::HttpApi}
  XFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Rest: {Type: Api, Properties: {Path: /r, Method: GET}}
        Old: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /old, Method: GET, PayloadFormatVersion: "1.0"}}
        Open: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /open, Method: GET}}
        Unknown: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /u, Method: GET, Auth: {Authorizer: Nope}}}
        Tagged: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: !Sub "/${Stage}/x", Method: GET}}
        Queue: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}
`,
			warnings: []string{"REST API", "PayloadFormatVersion 1.0", "no authorizer", "Nope is not defined", "Path is not a plain string"},
			check: func(t *testing.T, routes []Route) {
				var keys []string
				for _, r := range routes {
					keys = append(keys, r.Key()+"="+r.Auth.Kind.String())
				}
				if want := []string{"GET /open=jwt", "GET /u=jwt"}; !reflect.DeepEqual(keys, want) {
					t.Errorf("routes = %v, want %v", keys, want)
				}
			},
		},
		{
			name: "ApiId that is not an HttpApi",
			yaml: `
Resources:
  XFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {ApiId: !Ref Missing, Path: /a, Method: GET}}
`,
			wantErr: "XFunction.Events.A: ApiId Missing",
		},
		{
			name: "Path without Method",
			yaml: `
Resources:
  XFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {Path: /a}}
`,
			wantErr: "both Path and Method",
		},
		{
			name: "authorizer FunctionArn that is not a function",
			yaml: `
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      Auth: {Authorizers: {L: {FunctionArn: "arn:aws:lambda:us-east-1:1:function:x"}}}
  XFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {ApiId: !Ref Api, Path: /a, Method: GET, Auth: {Authorizer: L}}}
`,
			wantErr: "FunctionArn does not name a function",
		},
		{
			name: "anchors and aliases",
			yaml: `
Resources:
  Api: {Type: AWS::Serverless::HttpApi}
  XFunction:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        A: {Type: HttpApi, Properties: {ApiId: &api !Ref Api, Path: /a, Method: POST, Auth: &open {Authorizer: AWS_IAM}}}
        B: {Type: HttpApi, Properties: {ApiId: *api, Path: /b, Method: GET, Auth: *open}}
`,
			check: func(t *testing.T, routes []Route) {
				if len(routes) != 2 {
					t.Fatalf("routes = %v", routes)
				}
				for _, r := range routes {
					if r.API != "Api" || r.Auth.Kind != AuthNone || r.Auth.Authorizer != "AWS_IAM" {
						t.Errorf("route %s = %+v", r.Key(), r)
					}
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			routes, warnings, err := ParseTemplate([]byte(tt.yaml))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings = %q, want %d matching %q", warnings, len(tt.warnings), tt.warnings)
			}
			for i, w := range tt.warnings {
				if !strings.Contains(warnings[i], w) {
					t.Errorf("warning %d = %q, want it to contain %q", i, warnings[i], w)
				}
			}
			if tt.check != nil {
				tt.check(t, routes)
			}
		})
	}
}

func TestFunctionName(t *testing.T) {
	for in, want := range map[string]string{
		"CreateFunction":      "create",
		"KeysFunction":        "keys",
		"DemoBackendFunction": "demobackend",
		"Authorize":           "authorize",
	} {
		if got := functionName(in); got != want {
			t.Errorf("functionName(%q) = %q, want %q", in, got, want)
		}
	}
}
