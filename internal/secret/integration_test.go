//go:build integration

package secret_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/testenv"
)

// newStore returns a Store on the local Secrets Manager with a name prefix
// of the test's own, and the client behind it.
func newStore(t *testing.T) (*secret.Store, *secretsmanager.Client) {
	t.Helper()
	api := testenv.Secrets(t)
	return secret.New(api, testenv.UniqueName(t, "paykeys-")+"/"), api
}

func uuid(t *testing.T) string {
	t.Helper()
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// create makes a secret for a fresh client ID and deletes it at the end.
func create(t *testing.T, ctx context.Context, s *secret.Store) (clientID, v1 string) {
	t.Helper()
	clientID, v1 = "ck_test_"+uuid(t)[:8], uuid(t)
	if err := s.Create(ctx, clientID, v1, "paykeys_sk_test_one"); err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Delete(context.Background(), clientID); err != nil {
			t.Errorf("cleanup Delete: %v", err)
		}
	})
	return clientID, v1
}

// labels reads the labelled versions of the secret, each label list sorted.
func labels(t *testing.T, ctx context.Context, api *secretsmanager.Client, s *secret.Store, clientID string) map[string][]string {
	t.Helper()
	d, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.Name(clientID))})
	if err != nil {
		t.Fatalf("DescribeSecret: %v", err)
	}
	out := map[string][]string{}
	for v, stages := range d.VersionIdsToStages {
		if len(stages) > 0 {
			st := slices.Clone(stages)
			sort.Strings(st)
			out[v] = st
		}
	}
	return out
}

func get(t *testing.T, ctx context.Context, s *secret.Store, clientID, v string) string {
	t.Helper()
	got, err := s.Get(ctx, clientID, v)
	if err != nil {
		t.Fatalf("Get(%s): %v", v, err)
	}
	return got
}

func TestCreateGet(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)

	if got := get(t, ctx, s, clientID, v1); got != "paykeys_sk_test_one" {
		t.Errorf("Get = %q", got)
	}
	if got, want := labels(t, ctx, api, s, clientID), map[string][]string{v1: {secret.StageCurrent}}; !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	d, err := api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.Name(clientID))})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Tags) != 1 || aws.ToString(d.Tags[0].Key) != "client_id" || aws.ToString(d.Tags[0].Value) != clientID {
		t.Errorf("tags = %+v, want client_id=%s", d.Tags, clientID)
	}

	// A retry with the same version and value is success and changes nothing.
	if err := s.Create(ctx, clientID, v1, "paykeys_sk_test_one"); err != nil {
		t.Errorf("Create retry: %v", err)
	}
	// The same version with another value, or another version, is refused.
	if err := s.Create(ctx, clientID, v1, "paykeys_sk_test_other"); !errors.Is(err, secret.ErrExists) {
		t.Errorf("Create same version, other value = %v, want ErrExists", err)
	}
	if err := s.Create(ctx, clientID, uuid(t), "paykeys_sk_test_other"); !errors.Is(err, secret.ErrExists) {
		t.Errorf("Create other version = %v, want ErrExists", err)
	}
	if got := get(t, ctx, s, clientID, v1); got != "paykeys_sk_test_one" {
		t.Errorf("Get after refused creates = %q", got)
	}
}

func TestStageLeavesCurrentAlone(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)
	v2 := uuid(t)

	if err := s.Stage(ctx, clientID, v2, "paykeys_sk_test_two"); err != nil {
		t.Fatalf("Stage: %v", err)
	}
	if err := s.Stage(ctx, clientID, v2, "paykeys_sk_test_two"); err != nil {
		t.Fatalf("Stage retry: %v", err)
	}
	want := map[string][]string{v1: {secret.StageCurrent}, v2: {secret.StagePending}}
	if got := labels(t, ctx, api, s, clientID); !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	if got := get(t, ctx, s, clientID, v1); got != "paykeys_sk_test_one" {
		t.Errorf("Get v1 = %q", got)
	}
	if got := get(t, ctx, s, clientID, v2); got != "paykeys_sk_test_two" {
		t.Errorf("Get v2 = %q", got)
	}
	// AWSCURRENT read by stage still is v1.
	out, err := api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId: aws.String(s.Name(clientID)), VersionStage: aws.String(secret.StageCurrent),
	})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.VersionId) != v1 {
		t.Errorf("AWSCURRENT is %s, want %s", aws.ToString(out.VersionId), v1)
	}

	if err := s.Stage(ctx, "ck_test_missing0", uuid(t), "x"); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Stage on a missing secret = %v, want ErrNotFound", err)
	}
}

func TestPromote(t *testing.T) {
	tests := []struct {
		name  string
		grace bool
	}{
		{"with previous", true},
		{"without previous", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testenv.Context(t)
			s, api := newStore(t)
			clientID, v1 := create(t, ctx, s)
			v2 := uuid(t)
			if err := s.Stage(ctx, clientID, v2, "paykeys_sk_test_two"); err != nil {
				t.Fatalf("Stage: %v", err)
			}
			prev := ""
			want := map[string][]string{v2: {secret.StageCurrent}}
			if tt.grace {
				prev = v1
				want[v1] = []string{secret.StagePrevious}
			}
			for i := range 2 { // the second call finds nothing to do
				if err := s.Promote(ctx, clientID, v2, prev); err != nil {
					t.Fatalf("Promote #%d: %v", i+1, err)
				}
				if got := labels(t, ctx, api, s, clientID); !reflect.DeepEqual(got, want) {
					t.Errorf("labels after Promote #%d = %v, want %v", i+1, got, want)
				}
			}
			// A late retry of the Stage that made v2 changes nothing.
			if err := s.Stage(ctx, clientID, v2, "paykeys_sk_test_two"); err != nil {
				t.Fatalf("Stage retry after Promote: %v", err)
			}
			if got := labels(t, ctx, api, s, clientID); !reflect.DeepEqual(got, want) {
				t.Errorf("labels after a late Stage retry = %v, want %v", got, want)
			}
			// Both versions stay readable by ID whatever their labels.
			if got := get(t, ctx, s, clientID, v1); got != "paykeys_sk_test_one" {
				t.Errorf("Get v1 = %q", got)
			}
			if got := get(t, ctx, s, clientID, v2); got != "paykeys_sk_test_two" {
				t.Errorf("Get v2 = %q", got)
			}

			// A further reset inside the grace period ends the older previous.
			v3 := uuid(t)
			if err := s.Stage(ctx, clientID, v3, "paykeys_sk_test_three"); err != nil {
				t.Fatalf("Stage v3: %v", err)
			}
			if err := s.Promote(ctx, clientID, v3, v2); err != nil {
				t.Fatalf("Promote v3: %v", err)
			}
			want = map[string][]string{v2: {secret.StagePrevious}, v3: {secret.StageCurrent}}
			if got := labels(t, ctx, api, s, clientID); !reflect.DeepEqual(got, want) {
				t.Errorf("labels after second reset = %v, want %v", got, want)
			}
			// The grace period ends.
			if err := s.Promote(ctx, clientID, v3, ""); err != nil {
				t.Fatalf("Promote end of grace: %v", err)
			}
			want = map[string][]string{v3: {secret.StageCurrent}}
			if got := labels(t, ctx, api, s, clientID); !reflect.DeepEqual(got, want) {
				t.Errorf("labels after grace = %v, want %v", got, want)
			}
		})
	}
}

func TestPromoteUnknownVersion(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)
	if err := s.Promote(ctx, clientID, uuid(t), v1); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Promote to an unknown version = %v, want ErrNotFound", err)
	}
	want := map[string][]string{v1: {secret.StageCurrent}}
	if got := labels(t, ctx, api, s, clientID); !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v (unchanged)", got, want)
	}
	if err := s.Promote(ctx, "ck_test_missing0", v1, ""); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Promote on a missing secret = %v, want ErrNotFound", err)
	}
}

func TestConcurrentPromotesConverge(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)

	const n = 10
	versions := make([]string, n)
	for i := range versions {
		versions[i] = uuid(t)
		if err := s.Stage(ctx, clientID, versions[i], fmt.Sprintf("paykeys_sk_test_%d", i)); err != nil {
			t.Fatalf("Stage %d: %v", i, err)
		}
	}

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			prev := v1
			if i%2 == 1 {
				prev = ""
			}
			errs[i] = s.Promote(ctx, clientID, versions[i], prev)
		}()
	}
	wg.Wait()
	conflicts := 0
	for i, err := range errs {
		// Promotes with different views fight; each either saw its view or
		// gave up with ErrConflict. Nothing else is acceptable.
		switch {
		case err == nil:
		case errors.Is(err, secret.ErrConflict):
			conflicts++
		default:
			t.Errorf("Promote %d: %v", i, err)
		}
	}
	t.Logf("%d of %d concurrent promotes gave up with ErrConflict", conflicts, n)

	// Whatever they left, promoting the winner settles it.
	winner := versions[n-1]
	if err := s.Promote(ctx, clientID, winner, v1); err != nil {
		t.Fatalf("final Promote: %v", err)
	}
	want := map[string][]string{v1: {secret.StagePrevious}, winner: {secret.StageCurrent}}
	got := labels(t, ctx, api, s, clientID)
	// Staged versions that were never current may still carry AWSPENDING
	// (only one can); ignore it.
	for v, st := range got {
		if reflect.DeepEqual(st, []string{secret.StagePending}) {
			delete(got, v)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	if got := get(t, ctx, s, clientID, winner); got != fmt.Sprintf("paykeys_sk_test_%d", n-1) {
		t.Errorf("Get winner = %q", got)
	}
}

func TestGetUnknownVersion(t *testing.T) {
	ctx := testenv.Context(t)
	s, _ := newStore(t)
	clientID, _ := create(t, ctx, s)
	if _, err := s.Get(ctx, clientID, uuid(t)); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get unknown version = %v, want ErrNotFound", err)
	}
	if _, err := s.Get(ctx, "ck_test_missing0", uuid(t)); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get on a missing secret = %v, want ErrNotFound", err)
	}
}

func TestDelete(t *testing.T) {
	ctx := testenv.Context(t)
	s, _ := newStore(t)
	clientID, v1 := create(t, ctx, s)
	for i := range 2 {
		if err := s.Delete(ctx, clientID); err != nil {
			t.Fatalf("Delete #%d: %v", i+1, err)
		}
	}
	if _, err := s.Get(ctx, clientID, v1); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "ck_test_never000"); err != nil {
		t.Errorf("Delete of a secret that never existed: %v", err)
	}
}

func TestCreateOverScheduledDeletion(t *testing.T) {
	ctx := testenv.Context(t)
	s, api := newStore(t)
	clientID, v1 := create(t, ctx, s)
	// Someone schedules the secret for deletion with a recovery window.
	if _, err := api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId: aws.String(s.Name(clientID)), RecoveryWindowInDays: aws.Int64(7),
	}); err != nil {
		t.Fatalf("DeleteSecret: %v", err)
	}
	// Secrets Manager answers InvalidRequestException, moto ResourceExistsException.
	err := s.Create(ctx, clientID, uuid(t), "paykeys_sk_test_two")
	if !errors.Is(err, secret.ErrScheduledForDeletion) && !errors.Is(err, secret.ErrExists) {
		t.Errorf("Create over a scheduled deletion = %v, want ErrScheduledForDeletion or ErrExists", err)
	}
	if _, err := s.Get(ctx, clientID, v1); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get of a secret scheduled for deletion = %v, want ErrNotFound", err)
	}
	if err := s.Promote(ctx, clientID, v1, ""); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Promote on a secret scheduled for deletion = %v, want ErrNotFound", err)
	}
	// Delete finishes the job at once.
	if err := s.Delete(ctx, clientID); err != nil {
		t.Fatalf("Delete of a secret scheduled for deletion: %v", err)
	}
}
