package secret

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/paykeys/paykeys/internal/retry"
)

// Promote retry bounds: each round reads the labels and moves what is out of
// place; a round that loses a race waits a little and starts over.
const (
	promoteRounds     = 10
	promoteBackoffMin = 10 * time.Millisecond
	promoteBackoffMax = 300 * time.Millisecond
)

// Promote makes the staging labels match the database's view of the key:
// AWSCURRENT on currentVersionID, AWSPREVIOUS on previousVersionID, or on no
// version when previousVersionID is "". The version made current also loses
// AWSPENDING, so AWSPENDING only ever marks a staged value nobody committed.
//
// It reads the labels, moves each misplaced one with UpdateSecretVersionStage
// naming the version it takes the label from (so a move fails rather than
// clobber a concurrent one), and reads again until the labels are as asked.
// Moving AWSCURRENT makes Secrets Manager put AWSPREVIOUS on the version it
// left; Promote then moves or removes AWSPREVIOUS as asked. Calling it again,
// or concurrently, is safe: it returns nil once it has seen the labels as
// asked, ErrNotFound if the secret or a named version does not exist, and
// ErrConflict if concurrent moves kept undoing its own.
//
// Concurrent Promotes with different views leave the labels as the last one
// to move them left them; callers promote the database's latest view.
func (s *Store) Promote(ctx context.Context, clientID, currentVersionID, previousVersionID string) error {
	if err := s.check(clientID, currentVersionID); err != nil {
		return fmt.Errorf("secret %s: promote: %w", clientID, err)
	}
	if previousVersionID != "" {
		if err := checkVersionID(previousVersionID); err != nil {
			return fmt.Errorf("secret %s: promote: previous: %w", clientID, err)
		}
		if previousVersionID == currentVersionID {
			return fmt.Errorf("secret %s: promote: %w: previous version equals current", clientID, ErrInvalid)
		}
	}
	name := aws.String(s.Name(clientID))

	var lastConflict error
	for round := 0; round < promoteRounds; round++ {
		if round > 0 && lastConflict != nil {
			if err := retry.Sleep(ctx, backoff(round)); err != nil {
				return fmt.Errorf("secret %s: promote: %w", clientID, err)
			}
		}
		lastConflict = nil

		d, err := s.api.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: name})
		if err != nil {
			return fmt.Errorf("secret %s: promote: describe: %w", clientID, s.mapNotFound(ctx, aws.ToString(name), err))
		}
		if d.DeletedDate != nil {
			return fmt.Errorf("secret %s: promote: %w: scheduled for deletion", clientID, ErrNotFound)
		}
		labels := d.VersionIdsToStages
		moves := plan(labels, currentVersionID, previousVersionID)
		if len(moves) == 0 {
			return nil
		}
		// Secrets Manager lists only labelled versions; an unlabelled target
		// must be confirmed before a label moves onto it.
		for _, m := range moves {
			if m.To == "" || hasVersion(labels, m.To) {
				continue
			}
			if err := s.versionExists(ctx, name, m.To); err != nil {
				return fmt.Errorf("secret %s: promote: version %s: %w", clientID, m.To, err)
			}
		}

		for _, m := range moves {
			in := &secretsmanager.UpdateSecretVersionStageInput{
				SecretId:     name,
				VersionStage: aws.String(m.Stage),
			}
			if m.From != "" {
				in.RemoveFromVersionId = aws.String(m.From)
			}
			if m.To != "" {
				in.MoveToVersionId = aws.String(m.To)
			}
			_, err := s.api.UpdateSecretVersionStage(ctx, in)
			if err == nil {
				continue
			}
			if mapped := s.mapNotFound(ctx, aws.ToString(name), err); errors.Is(mapped, ErrNotFound) {
				return fmt.Errorf("secret %s: promote: %s: %w", clientID, m, mapped)
			}
			if !isLabelConflict(err) {
				return fmt.Errorf("secret %s: promote: %s: %w", clientID, m, err)
			}
			// The label was not where we read it: someone moved it since.
			lastConflict = fmt.Errorf("%s: %w", m, err)
			break
		}
	}
	if lastConflict == nil {
		lastConflict = errors.New("labels still out of place")
	}
	return fmt.Errorf("secret %s: promote after %d rounds: %w: %w", clientID, promoteRounds, ErrConflict, lastConflict)
}

// move is one UpdateSecretVersionStage call: take Stage from From (if set)
// and put it on To (if set).
type move struct {
	Stage, From, To string
}

func (m move) String() string {
	return fmt.Sprintf("move %s from %q to %q", m.Stage, m.From, m.To)
}

// plan returns the label moves that turn labels into the asked state, in
// order, predicting Secrets Manager's own AWSPREVIOUS move when AWSCURRENT
// moves. It returns nothing when labels already are in that state.
func plan(labels map[string][]string, current, previous string) []move {
	st := copyLabels(labels)
	var moves []move

	// AWSCURRENT: onto current, off everything else.
	moves = append(moves, place(st, StageCurrent, current)...)
	// AWSPREVIOUS: onto previous, or nowhere.
	moves = append(moves, place(st, StagePrevious, previous)...)
	// AWSPENDING: off the version that is now current.
	if slices.Contains(st[current], StagePending) {
		moves = append(moves, move{Stage: StagePending, From: current})
		apply(st, move{Stage: StagePending, From: current})
	}
	return moves
}

// place returns the moves that leave stage on target only (on no version
// when target is ""), applying them to st.
func place(st map[string][]string, stage, target string) []move {
	var moves []move
	var others []string
	for _, v := range holders(st, stage) {
		if v != target {
			others = append(others, v)
		}
	}
	if target != "" && !slices.Contains(st[target], stage) {
		m := move{Stage: stage, To: target}
		if len(others) > 0 {
			m.From, others = others[0], others[1:]
		}
		moves = append(moves, m)
		apply(st, m)
	}
	for _, v := range others {
		m := move{Stage: stage, From: v}
		moves = append(moves, m)
		apply(st, m)
	}
	return moves
}

// apply changes st as Secrets Manager does for m, including the automatic
// moves of AWSPREVIOUS when AWSCURRENT moves from one version to another.
func apply(st map[string][]string, m move) {
	if m.From != "" {
		st[m.From] = slices.DeleteFunc(st[m.From], func(s string) bool { return s == m.Stage })
	}
	if m.To != "" && !slices.Contains(st[m.To], m.Stage) {
		st[m.To] = append(st[m.To], m.Stage)
	}
	if m.Stage == StageCurrent && m.From != "" && m.To != "" && m.From != m.To {
		for v := range st {
			st[v] = slices.DeleteFunc(st[v], func(s string) bool { return s == StagePrevious })
		}
		st[m.From] = append(st[m.From], StagePrevious)
	}
}

// holders returns the versions carrying stage, sorted.
func holders(st map[string][]string, stage string) []string {
	var out []string
	for v, stages := range st {
		if slices.Contains(stages, stage) {
			out = append(out, v)
		}
	}
	sort.Strings(out)
	return out
}

func copyLabels(labels map[string][]string) map[string][]string {
	st := make(map[string][]string, len(labels))
	for v, stages := range labels {
		st[v] = slices.Clone(stages)
	}
	return st
}

func hasVersion(labels map[string][]string, v string) bool {
	_, ok := labels[v]
	return ok
}

// versionExists confirms that versionID is a version of the secret, labelled
// or not, or returns ErrNotFound.
func (s *Store) versionExists(ctx context.Context, name *string, versionID string) error {
	in := &secretsmanager.ListSecretVersionIdsInput{
		SecretId:          name,
		IncludeDeprecated: aws.Bool(true),
		MaxResults:        aws.Int32(100),
	}
	for {
		out, err := s.api.ListSecretVersionIds(ctx, in)
		if err != nil {
			return fmt.Errorf("list versions: %w", s.mapNotFound(ctx, aws.ToString(name), err))
		}
		for _, v := range out.Versions {
			if aws.ToString(v.VersionId) == versionID {
				return nil
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return ErrNotFound
		}
		in.NextToken = out.NextToken
	}
}

// isLabelConflict reports the errors UpdateSecretVersionStage gives when a
// label is not on the version named to remove it from, which is how a
// concurrent move shows. The caller has ruled out a deleted secret first
// (mapNotFound), which Secrets Manager refuses with the same exception.
func isLabelConflict(err error) bool {
	var ip *types.InvalidParameterException
	var ir *types.InvalidRequestException
	return errors.As(err, &ip) || errors.As(err, &ir)
}

func backoff(round int) time.Duration {
	d := promoteBackoffMin << min(round, 5)
	d = min(d, promoteBackoffMax)
	return d/2 + rand.N(d/2+1)
}
