//go:build integration

package secret_test

import (
	"context"
	"reflect"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/testenv"
)

// resetTo stages and promotes a new version with the old one as previous,
// as a reset with a grace period does.
func resetTo(t *testing.T, ctx context.Context, s *secret.Store, clientID, value, prev string) string {
	t.Helper()
	v := uuid(t)
	if err := s.Stage(ctx, clientID, v, value); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if err := s.Promote(ctx, clientID, v, prev); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	return v
}

func TestRetireRemovesPreviousLabel(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)
	v2 := resetTo(t, ctx, s, clientID, "paykeys_sk_test_two", v1)
	if got, want := labels(t, ctx, api, s, clientID), map[string][]string{v1: {secret.StagePrevious}, v2: {secret.StageCurrent}}; !reflect.DeepEqual(got, want) {
		t.Fatalf("before: labels %v, want %v", got, want)
	}

	for range 2 { // the second time is a no-op
		if err := s.Retire(ctx, clientID, v1, v2); err != nil {
			t.Fatalf("Retire: %v", err)
		}
		if got, want := labels(t, ctx, api, s, clientID), map[string][]string{v2: {secret.StageCurrent}}; !reflect.DeepEqual(got, want) {
			t.Errorf("after: labels %v, want %v", got, want)
		}
	}
	if got := get(t, ctx, s, clientID, v2); got != "paykeys_sk_test_two" {
		t.Errorf("current value %q", got)
	}

	// Secrets Manager cannot delete one version: the unlabelled version is
	// deprecated, and reading it by its VersionId still answers until the
	// service removes it. The local stack behaves so too; the key record is
	// what stops anyone from using it (see Retire).
	list, err := api.ListSecretVersionIds(ctx, &secretsmanager.ListSecretVersionIdsInput{
		SecretId: aws.String(s.Name(clientID)), IncludeDeprecated: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range list.Versions {
		if aws.ToString(v.VersionId) == v1 && len(v.VersionStages) != 0 {
			t.Errorf("retired version still has stages %v", v.VersionStages)
		}
	}
	if got, err := s.Get(ctx, clientID, v1); err != nil {
		t.Logf("the retired version no longer answers: %v", err)
	} else if got != "paykeys_sk_test_one" {
		t.Errorf("retired version answers %q", got)
	} else {
		t.Log("as documented: the retired version is unlabelled but still readable by its VersionId")
	}
}

// TestRetireMovesStaleCurrentLabel: a version still labelled AWSCURRENT
// although the record moved on (a reset whose label move failed) gives its
// labels to the record's current version.
func TestRetireMovesStaleCurrentLabel(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)
	v2 := uuid(t)
	if err := s.Stage(ctx, clientID, v2, "paykeys_sk_test_two"); err != nil {
		t.Fatal(err)
	}
	// The labels never moved: v1 AWSCURRENT, v2 AWSPENDING.
	if err := s.Retire(ctx, clientID, v1, v2); err != nil {
		t.Fatalf("Retire: %v", err)
	}
	got := labels(t, ctx, api, s, clientID)
	if _, ok := got[v1]; ok {
		t.Errorf("retired version keeps labels: %v", got)
	}
	if cur := got[v2]; len(cur) == 0 || cur[0] != secret.StageCurrent {
		t.Errorf("labels %v: the record's current version is not AWSCURRENT", got)
	}
	// Without a current version to move AWSCURRENT to, it refuses.
	if err := s.Retire(ctx, clientID, v2, ""); err == nil {
		t.Error("retiring the only current version succeeded")
	}
	if err := s.Retire(ctx, clientID, v2, v2); err == nil {
		t.Error("retiring a version in favour of itself succeeded")
	}
}

func TestRetireNothingLeft(t *testing.T) {
	ctx := testenv.Context(t)
	s, _ := newStore(t)
	// No such secret (a revoked key's), and no such version.
	if err := s.Retire(ctx, "ck_test_nosuchkey", uuid(t), uuid(t)); err != nil {
		t.Errorf("missing secret: %v", err)
	}
	clientID, v1 := create(t, ctx, s)
	if err := s.Retire(ctx, clientID, uuid(t), v1); err != nil {
		t.Errorf("missing version: %v", err)
	}
	// A secret being deleted.
	if err := s.Delete(ctx, clientID); err != nil {
		t.Fatal(err)
	}
	if err := s.Retire(ctx, clientID, uuid(t), v1); err != nil {
		t.Errorf("deleted secret: %v", err)
	}
}
