package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
)

// memKeys holds keys in memory for the real authorizer.
type memKeys map[string]*key.Key

func (m memKeys) GetKey(_ context.Context, id string) (*key.Key, error) {
	if k, ok := m[id]; ok {
		return k, nil
	}
	return nil, key.NotFound("key", id)
}

type noSecrets struct{}

func (noSecrets) Get(context.Context, string, string) (string, error) {
	return "", key.NotFound("secret", "")
}

type freshNonces struct{}

func (freshNonces) UseNonce(context.Context, string, string, time.Time, time.Time) (bool, error) {
	return true, nil
}

// The events the local gateway builds, answered by the real authorizer: a
// repeated header reaches it joined with "," as from an HTTP API, so a
// request with two credentials is refused; the route's stage variable
// gives the API's environment, with no ENVIRONMENT for the function.
func TestGatewayRealAuthorizer(t *testing.T) {
	keys := memKeys{}
	var secrets []string
	for i := range 2 {
		iss, err := key.New(key.NewParams{MerchantID: "m_demo", Name: "k", Environment: key.EnvTest,
			Scopes: []string{"payments:read", "payments:write"}}, "11111111-2222-4333-8444-55555555555"+string(rune('0'+i)), testNow)
		if err != nil {
			t.Fatal(err)
		}
		keys[iss.Key.ID] = iss.Key
		secrets = append(secrets, iss.Secret)
	}
	a, b := secrets[0], secrets[1]
	routes, err := authorizer.ParseRoutes("ANY /demo/{proxy+}=payments:write")
	if err != nil {
		t.Fatal(err)
	}
	h := &authorizer.Handler{
		Engine: authz.New(keys, noSecrets{}, freshNonces{}, authz.Options{}), Routes: routes,
		Log: slog.New(slog.NewJSONHandler(io.Discard, nil)), // no ENVIRONMENT: the stage variable says test
	}
	tg := newTestGateway(t, nil, &Backend{Authorizers: map[string]Invoker{"authorize": lambda.NewHandler(h.Handle)}})

	tests := []struct {
		name    string
		headers [][2]string // added in order; a name given twice is sent twice
		status  int
	}{
		{"X-API-Key", [][2]string{{"X-API-Key", a}}, 200},
		{"Authorization: Bearer", [][2]string{{"Authorization", "Bearer " + b}}, 200},
		{"X-API-Key twice, same secret", [][2]string{{"X-API-Key", a}, {"X-API-Key", a}}, 200},
		{"X-API-Key twice, two secrets", [][2]string{{"X-API-Key", b}, {"X-API-Key", a}}, 401},
		{"two spellings, two secrets", [][2]string{{"x-api-key", b}, {"X-Api-Key", a}}, 401},
		{"X-API-Key and Authorization: Bearer", [][2]string{{"X-API-Key", b}, {"Authorization", "Bearer " + a}}, 401},
		{"Authorization twice", [][2]string{{"Authorization", "Bearer " + a}, {"Authorization", "Bearer " + b}}, 401},
		{"bearer and a signature header", [][2]string{{"X-API-Key", a}, {"X-Client-Id", "ck_test_x"}}, 401},
		{"no credential", nil, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("POST", tg.srv.URL+"/demo/charges", nil)
			if err != nil {
				t.Fatal(err)
			}
			for _, kv := range tt.headers {
				req.Header.Add(kv[0], kv[1])
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.status)
			}
		})
	}
}
