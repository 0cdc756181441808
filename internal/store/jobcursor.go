package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/key"
)

// A background job's place in a long walk (the lifecycle job's orphan
// secret sweep) is one item, pk JOB#<name>, sk CURSOR, so that a walk longer
// than one run resumes where the last run stopped.
const (
	jobPKPrefix   = "JOB#"
	jobCursorSK   = "CURSOR"
	jobCursorAttr = "cursor"
)

// JobCursor returns the cursor the job name saved last, or "" when it saved
// none (or saved the end of a walk).
func (s *Store) JobCursor(ctx context.Context, name string) (string, error) {
	var rec struct {
		Cursor string `dynamodbav:"cursor"`
	}
	err := s.getItem(ctx, itemKey(jobPKPrefix+name, jobCursorSK), &rec)
	if errors.Is(err, key.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: job %s: read cursor: %w", name, err)
	}
	return rec.Cursor, nil
}

// SaveJobCursor saves the job name's cursor; "" starts the next walk from
// the beginning. Concurrent runs may overwrite each other's cursor: the
// walk then repeats or skips a page, which the next walk covers.
func (s *Store) SaveJobCursor(ctx context.Context, name, cursor string) error {
	item := itemKey(jobPKPrefix+name, jobCursorSK)
	item[jobCursorAttr] = avS(cursor)
	if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: item}); err != nil {
		return fmt.Errorf("store: job %s: save cursor: %w", name, err)
	}
	return nil
}
