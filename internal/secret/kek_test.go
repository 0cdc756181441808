package secret

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/paykeys/paykeys/internal/key"
)

// kekFake is one Secrets Manager secret with values, as the keyring uses
// it: PutSecretValue keeps the service's rules (a ClientRequestToken is
// the version ID; the same token with another value is
// ResourceExistsException; a new AWSCURRENT moves AWSPREVIOUS onto the
// version it replaces). beforePut, when set, runs before each put without
// the lock held, so that it may call the fake itself (a racing writer).
type kekFake struct {
	fakeAPI
	mu        sync.Mutex
	values    map[string]string
	stages    map[string][]string
	beforePut func()
}

func newKEKFake(first string) *kekFake {
	return &kekFake{values: map[string]string{first: newKEK()}, stages: map[string][]string{first: {StageCurrent}}}
}

func (f *kekFake) PutSecretValue(_ context.Context, in *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	if hook := f.beforePut; hook != nil {
		hook()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v, val := aws.ToString(in.ClientRequestToken), aws.ToString(in.SecretString)
	if v == "" {
		v = key.NewVersionID()
	}
	if old, ok := f.values[v]; ok {
		if old != val {
			return nil, opErr("PutSecretValue", &types.ResourceExistsException{Message: aws.String("a version with this token exists")})
		}
		return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(v)}, nil
	}
	f.values[v] = val
	if slices.Contains(in.VersionStages, StageCurrent) {
		for id, st := range f.stages {
			st = slices.DeleteFunc(st, func(s string) bool { return s == StagePrevious })
			if slices.Contains(st, StageCurrent) {
				st = append(slices.DeleteFunc(st, func(s string) bool { return s == StageCurrent }), StagePrevious)
			}
			f.stages[id] = st
		}
	}
	f.stages[v] = slices.Clone(in.VersionStages)
	return &secretsmanager.PutSecretValueOutput{VersionId: aws.String(v)}, nil
}

func (f *kekFake) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, st := range f.stages {
		if id == aws.ToString(in.VersionId) || in.VersionId == nil && slices.Contains(st, aws.ToString(in.VersionStage)) {
			return &secretsmanager.GetSecretValueOutput{VersionId: aws.String(id), SecretString: aws.String(f.values[id])}, nil
		}
	}
	return nil, notFound("GetSecretValue")
}

func (f *kekFake) DescribeSecret(_ context.Context, _ *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for id, st := range f.stages {
		if len(st) > 0 {
			out[id] = slices.Clone(st)
		}
	}
	return &secretsmanager.DescribeSecretOutput{VersionIdsToStages: out}, nil
}

// Two rotations that pass their checks at the same time (the operator's
// request and the schedule, in two runs of the lifecycle job) must not
// both make a new KEK: the second would take AWSPREVIOUS off the first KEK
// while ciphertexts are still sealed under it, and no listing or re-wrap
// would ever find them again.
func TestKeyringConcurrentRotationsMakeOneKEK(t *testing.T) {
	ctx := context.Background()
	first := key.NewVersionID()
	f := newKEKFake(first)
	mine, theirs := NewKeyring(f, "kek"), NewKeyring(f, "kek")
	var theirVersion string
	var theirErr error
	f.beforePut = func() {
		f.beforePut = nil // only the first put races
		theirVersion, theirErr = theirs.Rotate(ctx)
	}
	_, err := mine.Rotate(ctx)
	if theirErr != nil {
		t.Fatalf("the racing rotation failed: %v", theirErr)
	}
	if !errors.Is(err, ErrRewrapPending) {
		t.Errorf("the rotation that lost the race = %v, want ErrRewrapPending", err)
	}
	labels, lerr := mine.Labels(ctx)
	if lerr != nil {
		t.Fatal(lerr)
	}
	want := map[string][]string{first: {StagePrevious}, theirVersion: {StageCurrent}}
	if len(labels) != len(want) || !slices.Equal(labels[first], want[first]) || !slices.Equal(labels[theirVersion], want[theirVersion]) {
		t.Fatalf("KEK labels after two racing rotations = %v, want %v (the first KEK kept as previous)", labels, want)
	}
}
