//go:build integration

package api_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/key"
)

// A fault at each step of create leaves no key and no secret behind, and the
// answer is a clean 5xx.
func TestCreateFaults(t *testing.T) {
	for _, step := range []struct{ client, op string }{
		{"secrets", "CreateSecret"},
		{"dynamo", "TransactWriteItems"},
	} {
		t.Run(step.op, func(t *testing.T) {
			e := newEnv(t)
			e.faults(step.client).FailNth(step.op, 1)
			resp := e.do(req{route: "POST /v1/keys", body: minimal})
			assertClean5xx(t, resp)
			e.ddb.Reset()
			e.sm.Reset()
			keys, _, err := e.store.ListKeys(context.Background(), "m_alpha", key.ListFilter{Limit: 10})
			if err != nil || len(keys) != 0 {
				t.Fatalf("a failed create left %d keys (err %v)", len(keys), err)
			}
			if e.sm.Calls("CreateSecret") != 0 {
				t.Fatal("counters not reset")
			}
			assertNoSecrets(t, e)
		})
	}
}

// A fault at each step of reset leaves the key working with one consistent
// secret: the old one if the reset did not commit, the new one if it did.
func TestResetFaults(t *testing.T) {
	cases := []struct {
		client, op string
		nth        int
		committed  bool // the reset's record write went through
		status     int
	}{
		{"dynamo", "GetItem", 1, false, 500},
		{"secrets", "PutSecretValue", 1, false, 500},
		{"dynamo", "TransactWriteItems", 1, false, 500},
		// Labels are a follower of the record: the secret already works, so
		// the reset answers 200 and the labels are put right later.
		{"secrets", "UpdateSecretVersionStage", 1, true, 200},
		{"secrets", "DescribeSecret", 1, true, 200},
		// The confirming read fails: the client is told to retry, and the
		// key still has exactly one working secret.
		{"dynamo", "GetItem", 2, true, 500},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			e := newEnv(t)
			k := e.create(minimal)
			e.faults(c.client).FailNth(c.op, c.nth)
			resp := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"})
			e.ddb.Reset()
			e.sm.Reset()
			if resp.Status != c.status {
				t.Fatalf("status %d %s, want %d", resp.Status, resp.Body, c.status)
			}
			cur, err := e.store.GetKey(context.Background(), k.ID)
			if err != nil {
				t.Fatal(err)
			}
			if c.status >= 500 {
				assertClean5xx(t, resp)
			}
			if !c.committed {
				if cur.SecretVersion != 1 {
					t.Fatalf("a failed reset changed the version to %d", cur.SecretVersion)
				}
				if v, _ := e.verify(k.ID, k.Secret); !v {
					t.Fatal("the old secret stopped working after a failed reset")
				}
				assertLabels(t, e, k.ID, k.Secret, "")
				return
			}
			if cur.SecretVersion != 2 {
				t.Fatalf("version %d, want 2", cur.SecretVersion)
			}
			if v, _ := e.verify(k.ID, k.Secret); v {
				t.Fatal("the old secret still works after a committed reset")
			}
			if c.status == 200 {
				s := resp.json(t)["secret"].(string)
				if v, _ := e.verify(k.ID, s); !v {
					t.Fatal("the returned secret does not work")
				}
				// The next reset brings the labels in line with the record.
				r := e.do(req{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"})
				assertLabels(t, e, k.ID, r.json(t)["secret"].(string), "")
			}
		})
	}
}

// A fault at each step of revoke either leaves the key as it was or revoked;
// a revoked key's secret is destroyed by the retried DELETE.
func TestRevokeFaults(t *testing.T) {
	cases := []struct {
		client, op string
		revoked    bool
	}{
		{"dynamo", "GetItem", false},
		{"dynamo", "TransactWriteItems", false},
		{"secrets", "DeleteSecret", true},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			e := newEnv(t)
			k := e.create(minimal)
			e.faults(c.client).FailNth(c.op, 1)
			assertClean5xx(t, e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}))
			e.ddb.Reset()
			e.sm.Reset()
			valid, status := e.verify(k.ID, k.Secret)
			if c.revoked {
				if valid || status != "revoked" {
					t.Fatalf("after a failed secret deletion: valid=%v status=%s, want revoked", valid, status)
				}
				if _, err := currentSecret(t, e, k.ID); err != nil {
					t.Fatal("the secret is gone although its deletion failed")
				}
			} else if !valid || status != "active" {
				t.Fatalf("a revoke that did not commit changed the key: %v %s", valid, status)
			}
			if resp := e.do(req{route: "DELETE /v1/keys/{id}", id: k.ID}); resp.Status != 204 {
				t.Fatalf("retried delete: %d", resp.Status)
			}
			if _, err := currentSecret(t, e, k.ID); err == nil {
				t.Fatal("the retried delete did not destroy the secret")
			}
		})
	}
}

// A store that fails every call gives 5xx on every route, never a panic.
func TestOutageIsA5xx(t *testing.T) {
	e := newEnv(t)
	k := e.create(minimal)
	for _, op := range []string{"GetItem", "Query", "TransactWriteItems", "UpdateItem", "PutItem", "BatchGetItem"} {
		e.ddb.FailAll(op)
	}
	for _, r := range []req{
		{route: "POST /v1/keys", body: minimal},
		{route: "GET /v1/keys"},
		{route: "GET /v1/keys/{id}", id: k.ID},
		{route: "PATCH /v1/keys/{id}", id: k.ID, body: `{"name":"x"}`},
		{route: "DELETE /v1/keys/{id}", id: k.ID},
		{route: "POST /v1/keys/{id}/reset", id: k.ID, body: "-"},
		{route: "POST /v1/keys/{id}/verify", id: k.ID, body: `{"secret":"paykeys_sk_test_x"}`},
		{route: "GET /v1/audit"},
	} {
		assertClean5xx(t, e.do(r))
	}
	e.ddb.Reset()
	if v, _ := e.verify(k.ID, k.Secret); !v {
		t.Fatal("the outage changed the key")
	}
	// The failed create could not tell whether its key record committed (the
	// store did not answer), so it keeps its new secret rather than risk a
	// key without one: at most that one orphan is left, and no key has it.
	names, err := listSecrets(t, e)
	if err != nil {
		t.Fatal(err)
	}
	var orphans []string
	for _, n := range names {
		if id := strings.TrimPrefix(n, e.secrets.Name("")); id != k.ID {
			orphans = append(orphans, id)
		}
	}
	if len(orphans) > 1 {
		t.Fatalf("secrets left with no key: %v, want at most the failed create's", orphans)
	}
	for _, id := range orphans {
		if _, err := e.store.GetKey(context.Background(), id); !errors.Is(err, key.ErrNotFound) {
			t.Fatalf("secret %s kept by the failed create: its key record answers %v, want not found", id, err)
		}
	}
}

func (e *env) faults(client string) interface{ FailNth(string, int) } {
	if client == "dynamo" {
		return e.ddb
	}
	return e.sm
}

func assertClean5xx(t *testing.T, resp response) {
	t.Helper()
	if resp.Status < 500 {
		t.Fatalf("status %d %s, want 5xx", resp.Status, resp.Body)
	}
	code := resp.errCode(t)
	if code != "internal" && code != "unavailable" {
		t.Fatalf("code %q", code)
	}
	if strings.Contains(resp.Body, "injected") || strings.Contains(resp.Body, "sk_") {
		t.Fatalf("internal detail in the body: %s", resp.Body)
	}
}

// assertNoSecrets checks that this env's prefix holds no secret at all.
func assertNoSecrets(t *testing.T, e *env) { assertNoSecretsBut(t, e) }

func assertNoSecretsBut(t *testing.T, e *env, keep ...string) {
	t.Helper()
	names, err := listSecrets(t, e)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, id := range keep {
		want[e.secrets.Name(id)] = true
	}
	for _, n := range names {
		if !want[n] {
			t.Errorf("secret %s is left with no key", n)
		}
	}
}
