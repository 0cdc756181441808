package secret

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/retry"
)

// retireRounds bounds Retire's read-and-move rounds.
const retireRounds = 10

// Retire takes every staging label off versionID, a previous secret's
// version that the key record no longer trusts, so that Secrets Manager
// treats it as deprecated. It needs DescribeSecret and
// UpdateSecretVersionStage only.
//
// Secrets Manager has no call that deletes a single version: only the whole
// secret can be deleted, and the key's current secret lives in it. A version
// without labels is "deprecated": DescribeSecret stops listing it and the
// service removes it on its own schedule (in AWS, once a secret has more
// than 100 versions, leaving those under a day old), but until then
// GetSecretValue with its VersionId still answers (moto, the local stack,
// keeps such versions for good and answers too). So Retire cannot destroy
// the value; what makes it unusable is the key record: the authorizer trusts
// a previous secret only while previous_secret_expires_at has not passed,
// and reads a secret only by a version ID the record names, which a retired
// version never is again.
//
// In the normal case the version holds AWSPREVIOUS (and perhaps a stray
// AWSPENDING), which is simply removed. If it still holds AWSCURRENT (a
// reset whose label move failed), AWSCURRENT moves to currentVersionID, the
// version the record says is current, and the AWSPREVIOUS that Secrets
// Manager then puts on versionID is removed too. Every move names the version
// it takes a label from, so a concurrent reset's move is never undone; a
// label that moved meanwhile is read again.
//
// Retiring again is a no-op. A secret that is gone or being deleted (a
// revoked key), or a version it does not have, is success: there is nothing
// left to retire.
func (s *Store) Retire(ctx context.Context, clientID, versionID, currentVersionID string) error {
	if err := s.check(clientID, versionID); err != nil {
		return fmt.Errorf("secret %s: retire: %w", clientID, err)
	}
	if currentVersionID == versionID {
		return fmt.Errorf("secret %s: retire: %w: the version to retire is the current one", clientID, ErrInvalid)
	}
	name := aws.String(s.Name(clientID))
	var lastConflict error
	for round := 0; round < retireRounds; round++ {
		if lastConflict != nil {
			if err := retry.Sleep(ctx, backoff(round)); err != nil {
				return fmt.Errorf("secret %s: retire: %w", clientID, err)
			}
		}
		lastConflict = nil
		d, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: name})
		if err != nil {
			if errors.Is(s.mapNotFound(ctx, aws.ToString(name), err), ErrNotFound) {
				return nil
			}
			return fmt.Errorf("secret %s: retire: describe: %w", clientID, err)
		}
		if d.DeletedDate != nil {
			return nil
		}
		stages := slices.Clone(d.VersionIdsToStages[versionID])
		if len(stages) == 0 {
			return nil
		}
		// AWSCURRENT last: moving it puts AWSPREVIOUS on the version, which
		// the next round removes.
		slices.SortStableFunc(stages, func(a, b string) int {
			switch {
			case a == StageCurrent && b != StageCurrent:
				return 1
			case b == StageCurrent && a != StageCurrent:
				return -1
			}
			return 0
		})
		for _, stage := range stages {
			m := move{Stage: stage, From: versionID}
			if stage == StageCurrent {
				if currentVersionID == "" {
					return fmt.Errorf("secret %s: retire: version %s is still current and no other version was named", clientID, versionID)
				}
				if err := checkVersionID(currentVersionID); err != nil {
					return fmt.Errorf("secret %s: retire: current: %w", clientID, err)
				}
				m.To = currentVersionID
			}
			in := &secretsmanager.UpdateSecretVersionStageInput{
				SecretId:            name,
				VersionStage:        aws.String(m.Stage),
				RemoveFromVersionId: aws.String(m.From),
			}
			if m.To != "" {
				in.MoveToVersionId = aws.String(m.To)
			}
			_, err := s.api.UpdateSecretVersionStage(ctx, in)
			if err == nil {
				continue // the next round reads the labels again to confirm
			}
			if mapped := s.mapNotFound(ctx, aws.ToString(name), err); errors.Is(mapped, ErrNotFound) {
				return nil
			}
			if !isLabelConflict(err) {
				return fmt.Errorf("secret %s: retire: %s: %w", clientID, m, err)
			}
			lastConflict = fmt.Errorf("%s: %w", m, err)
			break
		}
	}
	if lastConflict == nil {
		lastConflict = errors.New("labels still in place")
	}
	return fmt.Errorf("secret %s: retire after %d rounds: %w: %w", clientID, retireRounds, ErrConflict, lastConflict)
}
