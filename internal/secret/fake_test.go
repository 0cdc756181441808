package secret

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
)

// fakeAPI is an in-memory Secrets Manager holding one secret's labels, with
// the label rules of the real service: UpdateSecretVersionStage fails when the
// label is not on RemoveFromVersionId or is elsewhere and none is named, a
// missing version is ResourceNotFoundException (with nothing changed), and
// moving AWSCURRENT puts AWSPREVIOUS on the version it left. DescribeSecret
// lists labelled versions only. Every other call returns err, if set.
type fakeAPI struct {
	mu       sync.Mutex
	exists   bool
	deleted  bool                // scheduled for deletion: DescribeSecret still answers
	versions map[string][]string // version ID -> labels, unlabelled included
	err      error               // returned by Create/Put/Get/Delete when set

	// beforeUpdate, when set, runs before each UpdateSecretVersionStage
	// with the lock held; it may change versions to simulate a racing
	// writer, or return an error to fail the call.
	beforeUpdate func(f *fakeAPI, in *secretsmanager.UpdateSecretVersionStageInput) error

	calls   map[string]int
	updates []string // "STAGE from->to", in order
}

func newFake(versions map[string][]string) *fakeAPI {
	return &fakeAPI{exists: true, versions: versions, calls: map[string]int{}}
}

func opErr(op string, err error) error {
	return &smithy.OperationError{ServiceID: "Secrets Manager", OperationName: op, Err: err}
}

func notFound(op string) error {
	return opErr(op, &types.ResourceNotFoundException{Message: aws.String("Secrets Manager can't find the specified secret.")})
}

func (f *fakeAPI) count(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
}

func (f *fakeAPI) CreateSecret(_ context.Context, _ *secretsmanager.CreateSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	f.count("CreateSecret")
	return &secretsmanager.CreateSecretOutput{}, f.err
}

func (f *fakeAPI) PutSecretValue(_ context.Context, _ *secretsmanager.PutSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	f.count("PutSecretValue")
	return &secretsmanager.PutSecretValueOutput{}, f.err
}

func (f *fakeAPI) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.count("GetSecretValue")
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{VersionId: in.VersionId, SecretString: aws.String("value-of-" + aws.ToString(in.VersionId))}, nil
}

func (f *fakeAPI) DeleteSecret(_ context.Context, _ *secretsmanager.DeleteSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	f.count("DeleteSecret")
	return &secretsmanager.DeleteSecretOutput{}, f.err
}

func (f *fakeAPI) DescribeSecret(_ context.Context, _ *secretsmanager.DescribeSecretInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["DescribeSecret"]++
	if !f.exists {
		return nil, notFound("DescribeSecret")
	}
	out := map[string][]string{}
	for v, stages := range f.versions {
		if len(stages) > 0 {
			out[v] = slices.Clone(stages)
		}
	}
	d := &secretsmanager.DescribeSecretOutput{VersionIdsToStages: out}
	if f.deleted {
		d.DeletedDate = aws.Time(time.Unix(1795420800, 0))
	}
	return d, nil
}

func (f *fakeAPI) ListSecretVersionIds(_ context.Context, _ *secretsmanager.ListSecretVersionIdsInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["ListSecretVersionIds"]++
	if !f.exists {
		return nil, notFound("ListSecretVersionIds")
	}
	var out secretsmanager.ListSecretVersionIdsOutput
	for v, stages := range f.versions {
		out.Versions = append(out.Versions, types.SecretVersionsListEntry{VersionId: aws.String(v), VersionStages: slices.Clone(stages)})
	}
	return &out, nil
}

func (f *fakeAPI) UpdateSecretVersionStage(_ context.Context, in *secretsmanager.UpdateSecretVersionStageInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls["UpdateSecretVersionStage"]++
	if f.beforeUpdate != nil {
		if err := f.beforeUpdate(f, in); err != nil {
			return nil, err
		}
	}
	if !f.exists {
		return nil, notFound("UpdateSecretVersionStage")
	}
	stage, from, to := aws.ToString(in.VersionStage), aws.ToString(in.RemoveFromVersionId), aws.ToString(in.MoveToVersionId)
	invalid := func(msg string) error {
		return opErr("UpdateSecretVersionStage", &types.InvalidParameterException{Message: aws.String(msg)})
	}
	for _, v := range []string{from, to} {
		if _, ok := f.versions[v]; v != "" && !ok {
			return nil, opErr("UpdateSecretVersionStage", &types.ResourceNotFoundException{Message: aws.String("no version " + v)})
		}
	}
	if from != "" && !slices.Contains(f.versions[from], stage) {
		return nil, invalid(fmt.Sprintf("label %s is not on version %s", stage, from))
	}
	if from == "" && to != "" {
		for v, stages := range f.versions {
			if v != to && slices.Contains(stages, stage) {
				return nil, invalid(fmt.Sprintf("label %s is on version %s; name it in RemoveFromVersionId", stage, v))
			}
		}
	}
	without := func(stages []string, label string) []string {
		return slices.DeleteFunc(stages, func(s string) bool { return s == label })
	}
	if from != "" {
		f.versions[from] = without(f.versions[from], stage)
	}
	if to != "" && !slices.Contains(f.versions[to], stage) {
		f.versions[to] = append(f.versions[to], stage)
	}
	// Moving AWSCURRENT from one version to another puts AWSPREVIOUS on the
	// version it left, taking it from wherever it was.
	if stage == StageCurrent && from != "" && to != "" && from != to {
		for v := range f.versions {
			f.versions[v] = without(f.versions[v], StagePrevious)
		}
		f.versions[from] = append(f.versions[from], StagePrevious)
	}
	f.updates = append(f.updates, fmt.Sprintf("%s %s->%s", stage, from, to))
	return &secretsmanager.UpdateSecretVersionStageOutput{}, nil
}

// labels returns the fake's labelled versions, each label list sorted.
func (f *fakeAPI) labels() map[string][]string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string][]string{}
	for v, stages := range f.versions {
		if len(stages) > 0 {
			s := slices.Clone(stages)
			sort.Strings(s)
			out[v] = s
		}
	}
	return out
}

var _ API = (*fakeAPI)(nil)
