// Package secret keeps API key secrets in AWS Secrets Manager: one secret per
// key, named <prefix><clientID>, one secret version per issued key secret.
// The service keeps two such stores under its SECRET_PREFIX, one per kind of
// secret (KeysDir, WebhooksDir), so that an IAM policy can grant a function
// one kind and not the other.
//
// The version ID of each value is chosen by the caller (a UUID the database
// records) and sent as the ClientRequestToken, so every write can be retried
// safely and every read names the exact version the database points to.
// Staging labels mirror the database: AWSCURRENT on the key's current
// secret, AWSPREVIOUS on the previous one during a grace period, and
// AWSPENDING on a value staged by a reset that has not committed yet.
//
// No error or message from this package ever contains a secret value.
package secret

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/paykeys/paykeys/internal/key"
)

// The folders of the service's secret prefix: key secrets are named
// <SECRET_PREFIX>keys/<client id>, webhook signing secrets
// <SECRET_PREFIX>webhooks/<endpoint id>. template.yaml grants each function
// the folders it uses.
const (
	KeysDir     = "keys/"
	WebhooksDir = "webhooks/"
)

// Staging labels Secrets Manager gives meaning to.
const (
	StageCurrent  = "AWSCURRENT"
	StagePrevious = "AWSPREVIOUS"
	StagePending  = "AWSPENDING"
)

// TagClientID is the tag carrying the client ID on every secret.
const TagClientID = "client_id"

// API is the part of the Secrets Manager client the Store uses;
// *secretsmanager.Client satisfies it.
type API interface {
	CreateSecret(ctx context.Context, in *secretsmanager.CreateSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.CreateSecretOutput, error)
	PutSecretValue(ctx context.Context, in *secretsmanager.PutSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.PutSecretValueOutput, error)
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
	DescribeSecret(ctx context.Context, in *secretsmanager.DescribeSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DescribeSecretOutput, error)
	ListSecretVersionIds(ctx context.Context, in *secretsmanager.ListSecretVersionIdsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretVersionIdsOutput, error)
	UpdateSecretVersionStage(ctx context.Context, in *secretsmanager.UpdateSecretVersionStageInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.UpdateSecretVersionStageOutput, error)
	DeleteSecret(ctx context.Context, in *secretsmanager.DeleteSecretInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.DeleteSecretOutput, error)
}

var _ API = (*secretsmanager.Client)(nil)

var (
	// ErrNotFound: the secret, or the version asked for, does not exist or
	// has been deleted.
	ErrNotFound = fmt.Errorf("secret not found: %w", key.ErrNotFound)
	// ErrExists: the secret already exists with other content, or the
	// version ID is already used for a different value. A retry with the
	// same version ID and value is not an error.
	ErrExists = errors.New("secret already exists")
	// ErrScheduledForDeletion: the name belongs to a secret that is being
	// deleted; Secrets Manager refuses to reuse it until deletion completes.
	ErrScheduledForDeletion = errors.New("secret is scheduled for deletion")
	// ErrConflict: Promote kept losing races with concurrent label moves.
	// Calling Promote again is safe.
	ErrConflict = errors.New("secret labels changed concurrently")
	// ErrInvalid: a client ID or version ID that cannot name a secret or a
	// version. It is a caller bug, never a state of the store.
	ErrInvalid = errors.New("invalid secret argument")
)

// Store is the Secrets Manager adapter. It is safe for concurrent use.
type Store struct {
	api    API
	prefix string
	// KMSKeyID, when set, is the KMS key Create encrypts a new secret with
	// (its versions follow); empty keeps Secrets Manager's AWS-managed key.
	KMSKeyID string
}

// New returns a Store that names secrets prefix+clientID, prefix being for
// example "paykeys/".
func New(api API, prefix string) *Store {
	return &Store{api: api, prefix: prefix}
}

// Name returns the secret name holding clientID's secret.
func (s *Store) Name(clientID string) string { return s.prefix + clientID }

// Create stores the first version of a key's secret under versionID, with
// the label AWSCURRENT and the tag client_id. Retrying with the same
// versionID and value succeeds; the same name with anything else is
// ErrExists, and a name still being deleted is ErrScheduledForDeletion.
func (s *Store) Create(ctx context.Context, clientID, versionID, value string) error {
	if err := s.check(clientID, versionID); err != nil {
		return fmt.Errorf("secret %s: create: %w", clientID, err)
	}
	_, err := s.api.CreateSecret(ctx, &secretsmanager.CreateSecretInput{
		Name:               aws.String(s.Name(clientID)),
		ClientRequestToken: aws.String(versionID),
		SecretString:       aws.String(value),
		Tags:               []types.Tag{{Key: aws.String(TagClientID), Value: aws.String(clientID)}},
		KmsKeyId:           optional(s.KMSKeyID),
	})
	switch {
	case err == nil:
		return nil
	case isCode(err, "ResourceExistsException"):
		return fmt.Errorf("secret %s: create version %s: %w: %w", clientID, versionID, ErrExists, err)
	case s.markedDeleted(ctx, s.Name(clientID), err):
		return fmt.Errorf("secret %s: create: %w: %w", clientID, ErrScheduledForDeletion, err)
	default:
		return fmt.Errorf("secret %s: create: %w", clientID, err)
	}
}

// Stage adds versionID with the label AWSPENDING only; AWSCURRENT stays
// where it is. A reset stages its new secret before the database commits and
// promotes it after. Retrying with the same versionID and value succeeds.
func (s *Store) Stage(ctx context.Context, clientID, versionID, value string) error {
	if err := s.check(clientID, versionID); err != nil {
		return fmt.Errorf("secret %s: stage: %w", clientID, err)
	}
	_, err := s.api.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{
		SecretId:           aws.String(s.Name(clientID)),
		ClientRequestToken: aws.String(versionID),
		SecretString:       aws.String(value),
		VersionStages:      []string{StagePending},
	})
	if err != nil {
		if isCode(err, "ResourceExistsException") {
			return fmt.Errorf("secret %s: stage version %s: %w: %w", clientID, versionID, ErrExists, err)
		}
		return fmt.Errorf("secret %s: stage version %s: %w", clientID, versionID, s.mapNotFound(ctx, s.Name(clientID), err))
	}
	return nil
}

// Get returns the value of one version. A secret or version that does not
// exist, or a secret being deleted, is ErrNotFound.
func (s *Store) Get(ctx context.Context, clientID, versionID string) (string, error) {
	if err := s.check(clientID, versionID); err != nil {
		return "", fmt.Errorf("secret %s: get: %w", clientID, err)
	}
	out, err := s.api.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{
		SecretId:  aws.String(s.Name(clientID)),
		VersionId: aws.String(versionID),
	})
	if err != nil {
		return "", fmt.Errorf("secret %s: get version %s: %w", clientID, versionID, s.mapNotFound(ctx, s.Name(clientID), err))
	}
	if out.SecretString == nil {
		return "", fmt.Errorf("secret %s: get version %s: the version holds no string value", clientID, versionID)
	}
	return *out.SecretString, nil
}

// Delete deletes the secret at once, without a recovery window. A secret
// that does not exist, or is already being deleted, is success.
func (s *Store) Delete(ctx context.Context, clientID string) error {
	if err := checkClientID(clientID); err != nil {
		return fmt.Errorf("secret %s: delete: %w", clientID, err)
	}
	_, err := s.api.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{
		SecretId:                   aws.String(s.Name(clientID)),
		ForceDeleteWithoutRecovery: aws.Bool(true),
	})
	if err != nil && !errors.Is(s.mapNotFound(ctx, s.Name(clientID), err), ErrNotFound) {
		return fmt.Errorf("secret %s: delete: %w", clientID, err)
	}
	return nil
}

func (s *Store) check(clientID, versionID string) error {
	if err := checkClientID(clientID); err != nil {
		return err
	}
	return checkVersionID(versionID)
}

// checkClientID accepts what Secrets Manager accepts in a name after our
// prefix: ASCII letters, digits and /_+=.@-.
func checkClientID(clientID string) error {
	if clientID == "" || len(clientID) > 256 {
		return fmt.Errorf("%w: client id must be 1..256 characters", ErrInvalid)
	}
	for _, r := range clientID {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("/_+=.@-", r)) {
			return fmt.Errorf("%w: client id has a character a secret name cannot hold", ErrInvalid)
		}
	}
	return nil
}

// checkVersionID accepts what Secrets Manager accepts as a ClientRequestToken
// and VersionId: 32..64 printable ASCII characters (a UUID is 36).
func checkVersionID(versionID string) error {
	if len(versionID) < 32 || len(versionID) > 64 {
		return fmt.Errorf("%w: version id must be 32..64 characters", ErrInvalid)
	}
	for i := 0; i < len(versionID); i++ {
		if c := versionID[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: version id must be printable ASCII", ErrInvalid)
		}
	}
	return nil
}

// mapNotFound turns "no such secret or version" and "secret being deleted"
// into ErrNotFound, keeping the SDK error in the chain. name is the secret
// the failed call named.
func (s *Store) mapNotFound(ctx context.Context, name string, err error) error {
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) || s.markedDeleted(ctx, name, err) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return err
}

// markedDeleted reports Secrets Manager's refusal to touch a secret that is
// scheduled for deletion. That refusal has no error code of its own (an
// InvalidRequestException, which covers other refusals too), so for that
// error the secret's own state decides: it is marked deleted when
// DescribeSecret shows a deletion date, or no longer finds it.
func (s *Store) markedDeleted(ctx context.Context, name string, err error) bool {
	var ir *types.InvalidRequestException
	if !errors.As(err, &ir) {
		return false
	}
	d, derr := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
	var nf *types.ResourceNotFoundException
	return derr == nil && d.DeletedDate != nil || errors.As(derr, &nf)
}

func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// Versions returns the labelled versions of a secret and their labels, or
// ErrNotFound when the secret does not exist or is being deleted.
func (s *Store) Versions(ctx context.Context, clientID string) (map[string][]string, error) {
	if err := checkClientID(clientID); err != nil {
		return nil, fmt.Errorf("secret %s: versions: %w", clientID, err)
	}
	d, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(s.Name(clientID))})
	if err != nil {
		return nil, fmt.Errorf("secret %s: versions: %w", clientID, s.mapNotFound(ctx, s.Name(clientID), err))
	}
	if d.DeletedDate != nil {
		return nil, fmt.Errorf("secret %s: versions: %w: scheduled for deletion", clientID, ErrNotFound)
	}
	return d.VersionIdsToStages, nil
}

// ListAPI is the Secrets Manager call List makes; *secretsmanager.Client
// satisfies it.
type ListAPI interface {
	ListSecrets(ctx context.Context, in *secretsmanager.ListSecretsInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.ListSecretsOutput, error)
}

// Listed is one secret as a listing shows it: its name (without the
// prefix) and the last time any of its versions was written.
type Listed struct {
	Name    string
	Written time.Time
}

// listNames is List on top of a ListDated.
func listNames(ctx context.Context, list func(context.Context, string, int) ([]Listed, string, error), cursor string, limit int) ([]string, string, error) {
	l, next, err := list(ctx, cursor, limit)
	names := make([]string, len(l))
	for i, e := range l {
		names[i] = e.Name
	}
	return names, next, err
}

// List returns up to limit names (without the prefix) of the secrets under
// the store's prefix, from cursor ("" for the first page), and the cursor
// of the next page ("" after the last). The store's client must also be a
// ListAPI.
func (s *Store) List(ctx context.Context, cursor string, limit int) ([]string, string, error) {
	return listNames(ctx, s.ListDated, cursor, limit)
}

// ListDated is List with the time each secret was last written: created,
// or given a version or a label since.
func (s *Store) ListDated(ctx context.Context, cursor string, limit int) ([]Listed, string, error) {
	l, ok := s.api.(ListAPI)
	if !ok {
		return nil, "", errors.New("secret: list: the Secrets Manager client cannot list secrets")
	}
	in := &secretsmanager.ListSecretsInput{
		Filters:    []types.Filter{{Key: types.FilterNameStringTypeName, Values: []string{s.prefix}}},
		MaxResults: aws.Int32(int32(min(max(limit, 1), 100))),
	}
	if cursor != "" {
		in.NextToken = aws.String(cursor)
	}
	out, err := l.ListSecrets(ctx, in)
	if err != nil {
		return nil, "", fmt.Errorf("secret: list %s*: %w", s.prefix, err)
	}
	var listed []Listed
	for _, e := range out.SecretList {
		n := aws.ToString(e.Name)
		if e.DeletedDate == nil && strings.HasPrefix(n, s.prefix) && checkClientID(n[len(s.prefix):]) == nil {
			listed = append(listed, Listed{Name: n[len(s.prefix):], Written: latest(e.CreatedDate, e.LastChangedDate)})
		}
	}
	return listed, aws.ToString(out.NextToken), nil
}

// latest is the later of the times that are set (the zero time if none).
func latest(ts ...*time.Time) time.Time {
	var t time.Time
	for _, x := range ts {
		if x != nil && x.After(t) {
			t = *x
		}
	}
	return t
}

// optional is nil for "", so that the SDK leaves the field out.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
