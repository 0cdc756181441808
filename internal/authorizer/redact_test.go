package authorizer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/authorizer"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
)

// The decision line's path never holds a secret, even with a logger that
// does not redact: a secret pasted into the path is logged as [REDACTED].
func TestDecisionLineRedactsThePath(t *testing.T) {
	iss, err := key.New(key.NewParams{MerchantID: "m_1", Name: "redact", Environment: key.EnvTest,
		Scopes: []string{"payments:read"}}, "11111111-2222-4333-8444-555555555555", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile("../../events/authorize/http-bearer.json")
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal([]byte(strings.Replace(string(raw), "paykeys_sk_test_PLACEHOLDER", iss.Secret, 1)), &ev); err != nil {
		t.Fatal(err)
	}
	routes, err := authorizer.ParseRoutes("GET /demo/{proxy+}=payments:read")
	if err != nil {
		t.Fatal(err)
	}
	unbranded := iss.Secret[len("paykeys_"):] // the form before brands
	for _, path := range []string{"/demo/" + iss.Secret, "/demo/x/" + unbranded + "/y"} {
		ev["rawPath"] = path
		ev["routeKey"] = "GET /demo/{proxy+}"
		event, _ := json.Marshal(ev)
		var logs bytes.Buffer
		h := &authorizer.Handler{
			Engine: authz.New(oneKey{iss.Key}, noSecrets{}, noNonces{}, authz.Options{}), Routes: routes,
			Environment: key.EnvTest, Log: slog.New(slog.NewJSONHandler(&logs, nil)),
		}
		if _, err := h.Handle(context.Background(), event); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), iss.Secret[len("paykeys_sk_test_"):]) || !strings.Contains(logs.String(), `"path":"/demo/`+key.Redacted) &&
			!strings.Contains(logs.String(), `"path":"/demo/x/`+key.Redacted+`/y"`) {
			t.Errorf("decision line for %s = %s", strings.ReplaceAll(strings.ReplaceAll(path, iss.Secret, "<secret>"), unbranded, "<unbranded secret>"), logs.String())
		}
	}
}
