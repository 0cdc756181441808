package secret

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
)

const clientID = "ck_test_5Vq8pZk2"

// ver returns a well-formed version ID (a UUID) numbered n.
func ver(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012d", n) }

func TestPlan(t *testing.T) {
	v1, v2, v3 := ver(1), ver(2), ver(3)
	tests := []struct {
		name              string
		labels            map[string][]string
		current, previous string
		want              []move
	}{
		{
			name:    "already current, no previous",
			labels:  map[string][]string{v1: {StageCurrent}},
			current: v1,
		},
		{
			name:     "already as asked with previous",
			labels:   map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}},
			current:  v2,
			previous: v1,
		},
		{
			name:     "reset with grace: the automatic AWSPREVIOUS move is enough",
			labels:   map[string][]string{v1: {StageCurrent}, v2: {StagePending}},
			current:  v2,
			previous: v1,
			want: []move{
				{Stage: StageCurrent, From: v1, To: v2},
				{Stage: StagePending, From: v2},
			},
		},
		{
			name:    "reset without grace: AWSPREVIOUS is removed after the move",
			labels:  map[string][]string{v1: {StageCurrent}, v2: {StagePending}},
			current: v2,
			want: []move{
				{Stage: StageCurrent, From: v1, To: v2},
				{Stage: StagePrevious, From: v1},
				{Stage: StagePending, From: v2},
			},
		},
		{
			name:     "reset during a grace period: the older previous loses its label",
			labels:   map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}, v3: {StagePending}},
			current:  v3,
			previous: v2,
			want: []move{
				{Stage: StageCurrent, From: v2, To: v3},
				{Stage: StagePending, From: v3},
			},
		},
		{
			name:    "grace ended: only AWSPREVIOUS goes",
			labels:  map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}},
			current: v2,
			want:    []move{{Stage: StagePrevious, From: v1}},
		},
		{
			name:     "current right, previous on the wrong version",
			labels:   map[string][]string{v1: {StagePrevious}, v2: {}, v3: {StageCurrent}},
			current:  v3,
			previous: v2,
			want:     []move{{Stage: StagePrevious, From: v1, To: v2}},
		},
		{
			name:     "previous label missing altogether",
			labels:   map[string][]string{v2: {StageCurrent}},
			current:  v2,
			previous: v1,
			want:     []move{{Stage: StagePrevious, To: v1}},
		},
		{
			name:     "roll back onto the version holding AWSPREVIOUS",
			labels:   map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}},
			current:  v1,
			previous: v2,
			want:     []move{{Stage: StageCurrent, From: v2, To: v1}},
		},
		{
			name:    "target unlabelled (its AWSPENDING went to a later stage)",
			labels:  map[string][]string{v1: {StageCurrent}, v3: {StagePending}},
			current: v2,
			want: []move{
				{Stage: StageCurrent, From: v1, To: v2},
				{Stage: StagePrevious, From: v1},
			},
		},
		{
			name:    "no version carries AWSCURRENT",
			labels:  map[string][]string{v1: {StagePending}},
			current: v1,
			want: []move{
				{Stage: StageCurrent, To: v1},
				{Stage: StagePending, From: v1},
			},
		},
		{
			name:    "AWSCURRENT on two versions: moved from one, removed from the other",
			labels:  map[string][]string{v1: {StageCurrent}, v2: {StageCurrent}},
			current: v3,
			want: []move{
				{Stage: StageCurrent, From: v1, To: v3},
				{Stage: StageCurrent, From: v2},
				{Stage: StagePrevious, From: v1},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := copyLabels(tt.labels)
			got := plan(tt.labels, tt.current, tt.previous)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("plan =\n  %v\nwant\n  %v", got, tt.want)
			}
			if !reflect.DeepEqual(tt.labels, before) {
				t.Errorf("plan changed its input: %v, was %v", tt.labels, before)
			}
		})
	}
}

func TestPromote(t *testing.T) {
	v1, v2, v3 := ver(1), ver(2), ver(3)
	tests := []struct {
		name              string
		versions          map[string][]string
		current, previous string
		want              map[string][]string
		wantUpdates       int
	}{
		{
			name:        "no-op",
			versions:    map[string][]string{v1: {StageCurrent}},
			current:     v1,
			want:        map[string][]string{v1: {StageCurrent}},
			wantUpdates: 0,
		},
		{
			name:        "reset with grace",
			versions:    map[string][]string{v1: {StageCurrent}, v2: {StagePending}},
			current:     v2,
			previous:    v1,
			want:        map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}},
			wantUpdates: 2,
		},
		{
			name:        "reset without grace",
			versions:    map[string][]string{v1: {StageCurrent}, v2: {StagePending}},
			current:     v2,
			want:        map[string][]string{v2: {StageCurrent}},
			wantUpdates: 3,
		},
		{
			name:        "second reset inside a grace period",
			versions:    map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}, v3: {StagePending}},
			current:     v3,
			previous:    v2,
			want:        map[string][]string{v2: {StagePrevious}, v3: {StageCurrent}},
			wantUpdates: 2,
		},
		{
			name:        "grace period over",
			versions:    map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}},
			current:     v2,
			want:        map[string][]string{v2: {StageCurrent}},
			wantUpdates: 1,
		},
		{
			name:        "unlabelled target",
			versions:    map[string][]string{v1: {StageCurrent}, v2: {}, v3: {StagePending}},
			current:     v2,
			previous:    v1,
			want:        map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}, v3: {StagePending}},
			wantUpdates: 1,
		},
		{
			name:        "previous unlabelled",
			versions:    map[string][]string{v1: {}, v2: {StageCurrent}},
			current:     v2,
			previous:    v1,
			want:        map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}},
			wantUpdates: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(tt.versions)
			s := New(f, "paykeys/")
			if err := s.Promote(context.Background(), clientID, tt.current, tt.previous); err != nil {
				t.Fatalf("Promote: %v", err)
			}
			if got := f.labels(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("labels = %v, want %v", got, tt.want)
			}
			if got := f.calls["UpdateSecretVersionStage"]; got != tt.wantUpdates {
				t.Errorf("%d label moves (%v), want %d", got, f.updates, tt.wantUpdates)
			}

			// A second Promote finds nothing to do.
			before := f.calls["UpdateSecretVersionStage"]
			if err := s.Promote(context.Background(), clientID, tt.current, tt.previous); err != nil {
				t.Fatalf("second Promote: %v", err)
			}
			if f.calls["UpdateSecretVersionStage"] != before {
				t.Errorf("second Promote moved labels: %v", f.updates[before:])
			}
		})
	}
}

func TestPromoteRetriesWhenTheHolderChanges(t *testing.T) {
	v1, v2, v3 := ver(1), ver(2), ver(3)
	f := newFake(map[string][]string{v1: {StageCurrent}, v2: {StagePending}, v3: {}})
	raced := false
	f.beforeUpdate = func(f *fakeAPI, in *secretsmanager.UpdateSecretVersionStageInput) error {
		if !raced {
			// Another promote moves AWSCURRENT to v3 between our read and write.
			raced = true
			f.versions = map[string][]string{v1: {StagePrevious}, v2: {StagePending}, v3: {StageCurrent}}
		}
		return nil
	}
	s := New(f, "paykeys/")
	if err := s.Promote(context.Background(), clientID, v2, v1); err != nil {
		t.Fatalf("Promote: %v", err)
	}
	want := map[string][]string{v1: {StagePrevious}, v2: {StageCurrent}}
	if got := f.labels(); !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v, want %v", got, want)
	}
	if f.calls["DescribeSecret"] < 2 {
		t.Errorf("DescribeSecret called %d times; a lost race must be followed by a fresh read", f.calls["DescribeSecret"])
	}
}

func TestPromoteGivesUpOnEndlessConflicts(t *testing.T) {
	v1, v2 := ver(1), ver(2)
	f := newFake(map[string][]string{v1: {StageCurrent}, v2: {StagePending}})
	f.beforeUpdate = func(*fakeAPI, *secretsmanager.UpdateSecretVersionStageInput) error {
		return opErr("UpdateSecretVersionStage", &types.InvalidParameterException{Message: aws.String("label moved")})
	}
	err := New(f, "p/").Promote(context.Background(), clientID, v2, v1)
	if !errors.Is(err, ErrConflict) {
		t.Fatalf("Promote = %v, want ErrConflict", err)
	}
	if f.calls["DescribeSecret"] != promoteRounds {
		t.Errorf("DescribeSecret called %d times, want %d", f.calls["DescribeSecret"], promoteRounds)
	}
}

func TestPromoteStopsWithTheContext(t *testing.T) {
	v1, v2 := ver(1), ver(2)
	f := newFake(map[string][]string{v1: {StageCurrent}, v2: {StagePending}})
	ctx, cancel := context.WithCancel(context.Background())
	f.beforeUpdate = func(*fakeAPI, *secretsmanager.UpdateSecretVersionStageInput) error {
		cancel()
		return opErr("UpdateSecretVersionStage", &types.InvalidParameterException{Message: aws.String("label moved")})
	}
	if err := New(f, "p/").Promote(ctx, clientID, v2, v1); !errors.Is(err, context.Canceled) {
		t.Fatalf("Promote = %v, want context.Canceled", err)
	}
}

func TestPromoteErrors(t *testing.T) {
	v1, v2, v9 := ver(1), ver(2), ver(9)
	tests := []struct {
		name              string
		fake              func() *fakeAPI
		current, previous string
		want              error
	}{
		{
			name:    "secret missing",
			fake:    func() *fakeAPI { f := newFake(nil); f.exists = false; return f },
			current: v1,
			want:    ErrNotFound,
		},
		{
			name:    "unknown current version",
			fake:    func() *fakeAPI { return newFake(map[string][]string{v1: {StageCurrent}}) },
			current: v9,
			want:    ErrNotFound,
		},
		{
			name:     "unknown previous version",
			fake:     func() *fakeAPI { return newFake(map[string][]string{v1: {StageCurrent}}) },
			current:  v1,
			previous: v9,
			want:     ErrNotFound,
		},
		{
			name: "secret deleted while promoting",
			fake: func() *fakeAPI {
				f := newFake(map[string][]string{v1: {StageCurrent}, v2: {StagePending}})
				f.beforeUpdate = func(f *fakeAPI, _ *secretsmanager.UpdateSecretVersionStageInput) error {
					f.deleted = true
					return opErr("UpdateSecretVersionStage", &types.InvalidRequestException{Message: aws.String("You can't perform this operation on the secret because it was marked for deletion.")})
				}
				return f
			},
			current: v2,
			want:    ErrNotFound,
		},
		{
			name: "secret scheduled for deletion, labels already as asked",
			fake: func() *fakeAPI {
				f := newFake(map[string][]string{v1: {StageCurrent}})
				f.deleted = true
				return f
			},
			current: v1,
			want:    ErrNotFound,
		},
		{
			name:     "previous equals current",
			fake:     func() *fakeAPI { return newFake(map[string][]string{v1: {StageCurrent}}) },
			current:  v1,
			previous: v1,
			want:     ErrInvalid,
		},
		{
			name:    "malformed version id",
			fake:    func() *fakeAPI { return newFake(map[string][]string{v1: {StageCurrent}}) },
			current: "v2",
			want:    ErrInvalid,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.fake()
			before := f.labels()
			err := New(f, "p/").Promote(context.Background(), clientID, tt.current, tt.previous)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Promote = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), clientID) {
				t.Errorf("error %q does not name the client ID", err)
			}
			if got := f.labels(); !reflect.DeepEqual(got, before) && tt.name != "secret deleted while promoting" {
				t.Errorf("labels changed on error: %v, were %v", got, before)
			}
		})
	}
}

// TestErrorMapping checks how SDK errors come out of each method.
func TestErrorMapping(t *testing.T) {
	const value = "paykeys_sk_test_THISMUSTNEVERAPPEARINANERROR000000"
	var (
		notFoundErr = notFound("Op")
		// The refusals of a secret scheduled for deletion are told apart by
		// the secret's state (DeletedDate), never by their message.
		deletedErr  = opErr("Op", &types.InvalidRequestException{Message: aws.String("refused")})
		pendingErr  = opErr("Op", &types.InvalidRequestException{Message: aws.String("refused")})
		existsErr   = opErr("Op", &types.ResourceExistsException{Message: aws.String("The operation failed because the secret already exists.")})
		otherReqErr = opErr("Op", &types.InvalidRequestException{Message: aws.String("KMS key is disabled")})
		throttleErr = opErr("Op", errors.New("throttled"))
	)
	type call func(s *Store) error
	create := func(s *Store) error { return s.Create(context.Background(), clientID, ver(1), value) }
	stage := func(s *Store) error { return s.Stage(context.Background(), clientID, ver(2), value) }
	get := func(s *Store) error { _, err := s.Get(context.Background(), clientID, ver(1)); return err }
	del := func(s *Store) error { return s.Delete(context.Background(), clientID) }

	tests := []struct {
		name    string
		call    call
		sdkErr  error
		want    error // nil: success
		wantSDK bool  // the SDK error stays in the chain
	}{
		{"create ok", create, nil, nil, false},
		{"create exists", create, existsErr, ErrExists, true},
		{"create scheduled for deletion", create, pendingErr, ErrScheduledForDeletion, true},
		{"create other invalid request", create, otherReqErr, otherReqErr, true},
		{"create refused, secret not deleted", create, pendingErr, pendingErr, true},
		{"create throttled", create, throttleErr, throttleErr, true},
		{"stage ok", stage, nil, nil, false},
		{"stage secret missing", stage, notFoundErr, ErrNotFound, true},
		{"stage secret deleted", stage, deletedErr, ErrNotFound, true},
		{"stage version reused with another value", stage, existsErr, ErrExists, true},
		{"get ok", get, nil, nil, false},
		{"get missing", get, notFoundErr, ErrNotFound, true},
		{"get deleted", get, deletedErr, ErrNotFound, true},
		{"get other invalid request", get, otherReqErr, otherReqErr, true},
		{"get refused, secret not deleted", get, deletedErr, deletedErr, true},
		{"get throttled", get, throttleErr, throttleErr, true},
		{"delete ok", del, nil, nil, false},
		{"delete missing is success", del, notFoundErr, nil, false},
		{"delete already deleted is success", del, deletedErr, nil, false},
		{"delete throttled", del, throttleErr, throttleErr, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(nil)
			f.err = tt.sdkErr
			// The deleted and pending refusals come from a secret scheduled
			// for deletion, unless the case says otherwise.
			f.deleted = (tt.sdkErr == deletedErr || tt.sdkErr == pendingErr) && !strings.Contains(tt.name, "not deleted")
			err := tt.call(New(f, "paykeys/"))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("got %v, want success", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v in the chain", err, tt.want)
			}
			if tt.wantSDK && !errors.Is(err, tt.sdkErr) {
				t.Errorf("SDK error lost from the chain: %v", err)
			}
			if tt.want != ErrNotFound && errors.Is(err, ErrNotFound) {
				t.Errorf("%v maps to ErrNotFound", err)
			}
			if tt.want != ErrScheduledForDeletion && errors.Is(err, ErrScheduledForDeletion) {
				t.Errorf("%v maps to ErrScheduledForDeletion", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, clientID) {
				t.Errorf("error %q does not name the client ID", msg)
			}
			if strings.Contains(msg, value) {
				t.Errorf("error %q contains the secret value", msg)
			}
		})
	}
}

func TestInvalidArguments(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		call func(s *Store) error
	}{
		{"create empty client id", func(s *Store) error { return s.Create(ctx, "", ver(1), "v") }},
		{"create client id with a space", func(s *Store) error { return s.Create(ctx, "ck test", ver(1), "v") }},
		{"create short version id", func(s *Store) error { return s.Create(ctx, clientID, "1", "v") }},
		{"stage version id with a space", func(s *Store) error {
			return s.Stage(ctx, clientID, "00000000 0000 4000 8000 000000000001", "v")
		}},
		{"get empty version id", func(s *Store) error { _, err := s.Get(ctx, clientID, ""); return err }},
		{"get long version id", func(s *Store) error { _, err := s.Get(ctx, clientID, strings.Repeat("a", 65)); return err }},
		{"delete empty client id", func(s *Store) error { return s.Delete(ctx, "") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(nil)
			err := tt.call(New(f, "paykeys/"))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("got %v, want ErrInvalid", err)
			}
			for op, n := range f.calls {
				if n > 0 {
					t.Errorf("%s called on invalid input", op)
				}
			}
		})
	}
}

func TestName(t *testing.T) {
	if got := New(nil, "paykeys/").Name(clientID); got != "paykeys/"+clientID {
		t.Errorf("Name = %q", got)
	}
}

// recordingAPI captures the inputs the Store sends.
type recordingAPI struct {
	fakeAPI
	create *secretsmanager.CreateSecretInput
	put    *secretsmanager.PutSecretValueInput
	get    *secretsmanager.GetSecretValueInput
	del    *secretsmanager.DeleteSecretInput
}

func (r *recordingAPI) CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error) {
	r.create = in
	return &secretsmanager.CreateSecretOutput{}, nil
}

func (r *recordingAPI) PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error) {
	r.put = in
	return &secretsmanager.PutSecretValueOutput{}, nil
}

func (r *recordingAPI) GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, o ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	r.get = in
	return &secretsmanager.GetSecretValueOutput{SecretString: aws.String("s")}, nil
}

func (r *recordingAPI) DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, o ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error) {
	r.del = in
	return &secretsmanager.DeleteSecretOutput{}, nil
}

func TestRequests(t *testing.T) {
	ctx := context.Background()
	r := &recordingAPI{}
	s := New(r, "paykeys/")
	name := "paykeys/" + clientID

	if err := s.Create(ctx, clientID, ver(1), "first"); err != nil {
		t.Fatal(err)
	}
	c := r.create
	if aws.ToString(c.Name) != name || aws.ToString(c.ClientRequestToken) != ver(1) || aws.ToString(c.SecretString) != "first" {
		t.Errorf("CreateSecret name/token/value = %q/%q/%q", aws.ToString(c.Name), aws.ToString(c.ClientRequestToken), aws.ToString(c.SecretString))
	}
	if len(c.Tags) != 1 || aws.ToString(c.Tags[0].Key) != TagClientID || aws.ToString(c.Tags[0].Value) != clientID {
		t.Errorf("CreateSecret tags = %+v", c.Tags)
	}

	if err := s.Stage(ctx, clientID, ver(2), "second"); err != nil {
		t.Fatal(err)
	}
	p := r.put
	if aws.ToString(p.SecretId) != name || aws.ToString(p.ClientRequestToken) != ver(2) ||
		!reflect.DeepEqual(p.VersionStages, []string{StagePending}) {
		t.Errorf("PutSecretValue id/token/stages = %q/%q/%v", aws.ToString(p.SecretId), aws.ToString(p.ClientRequestToken), p.VersionStages)
	}

	if _, err := s.Get(ctx, clientID, ver(2)); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(r.get.SecretId) != name || aws.ToString(r.get.VersionId) != ver(2) || r.get.VersionStage != nil {
		t.Errorf("GetSecretValue = %+v", r.get)
	}

	if err := s.Delete(ctx, clientID); err != nil {
		t.Fatal(err)
	}
	if aws.ToString(r.del.SecretId) != name || !aws.ToBool(r.del.ForceDeleteWithoutRecovery) || r.del.RecoveryWindowInDays != nil {
		t.Errorf("DeleteSecret = %+v", r.del)
	}
}
