package store

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// writeLog records every item write the store asks DynamoDB for, inside
// transactions or not, and answers as an empty table would.
type writeLog struct {
	API
	writes []itemWrite
}

type itemWrite struct {
	op, pk, cond string
}

func (w *writeLog) add(op string, item map[string]types.AttributeValue, cond *string) {
	w.writes = append(w.writes, itemWrite{op: op, pk: stringAttr(item, attrPK), cond: aws.ToString(cond)})
}

func (w *writeLog) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	w.add("Put", in.Item, in.ConditionExpression)
	return &dynamodb.PutItemOutput{}, nil
}

// UpdateItem answers a refusal's claim as a new claim reads back.
func (w *writeLog) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	w.add("Update", in.Key, in.ConditionExpression)
	out := map[string]types.AttributeValue{}
	if strings.HasPrefix(stringAttr(in.Key, attrPK), "REFUSAL#") {
		out = map[string]types.AttributeValue{attrRecSK: avS(fmtTime(t0) + "#aud_1"), attrRecAt: avTime(t0), kID: avS("aud_1"), rCount: avN(1)}
	}
	return &dynamodb.UpdateItemOutput{Attributes: out}, nil
}

func (w *writeLog) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	w.add("Delete", in.Key, in.ConditionExpression)
	return &dynamodb.DeleteItemOutput{}, nil
}

func (w *writeLog) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return &dynamodb.GetItemOutput{}, nil
}

func (w *writeLog) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	for _, it := range in.TransactItems {
		switch {
		case it.Put != nil:
			w.add("Put", it.Put.Item, it.Put.ConditionExpression)
		case it.Update != nil:
			w.add("Update", it.Update.Key, it.Update.ConditionExpression)
		case it.Delete != nil:
			w.add("Delete", it.Delete.Key, it.Delete.ConditionExpression)
		}
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

// Every write of an audit record, by every store call that writes one, is a
// put into the audit partition that must not replace an item; nothing
// updates or deletes there (template.yaml denies it too).
func TestAuditRecordsAreOnlyAppended(t *testing.T) {
	rec := func() *key.AuditRecord {
		return &key.AuditRecord{ID: "aud_1", MerchantID: "m_1", Actor: "user_1", Action: "key.update", Outcome: "denied", CreatedAt: t0}
	}
	ctx := context.Background()
	for name, write := range map[string]func(s *Store) error{
		"create key": func(s *Store) error { return s.CreateKey(ctx, testKey(t, false), outbox.Extras{Audit: rec()}) },
		"update key": func(s *Store) error {
			k := testKey(t, true)
			k.Revision = 3
			return s.UpdateKey(ctx, k, outbox.Extras{Audit: rec(), Revokes: true})
		},
		"put audit":      func(s *Store) error { return s.PutAudit(ctx, rec()) },
		"record refusal": func(s *Store) error { return s.RecordRefusal(ctx, rec()) },
		"delete endpoint": func(s *Store) error {
			return s.DeleteEndpoint(ctx, &hook.Endpoint{ID: "we_1", MerchantID: "m_1", Revision: 2}, rec())
		},
	} {
		w := &writeLog{}
		s := New(w, "t")
		s.now = func() time.Time { return t0 }
		if err := write(s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		audited := 0
		for _, wr := range w.writes {
			if !strings.HasPrefix(wr.pk, AuditPartitionPrefix) {
				continue
			}
			audited++
			if wr.op != "Put" || wr.cond != "attribute_not_exists(#pk)" {
				t.Errorf("%s: %s of an audit record on %s, condition %q", name, wr.op, wr.pk, wr.cond)
			}
		}
		if audited != 1 {
			t.Errorf("%s: %d audit writes, want 1: %+v", name, audited, w.writes)
		}
	}
}

// answerPut answers every PutItem with err.
type answerPut struct {
	API
	err error
}

func (a answerPut) PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return &dynamodb.PutItemOutput{}, a.err
}

// An audit record already there is this one (its ID is random), written by
// an attempt whose answer was lost: the put succeeds. Any other error fails.
func TestPutAuditRetriedAfterItLanded(t *testing.T) {
	rec := &key.AuditRecord{ID: "aud_1", MerchantID: "m_1", Actor: "user_1", Action: "key.create", Outcome: "replayed", CreatedAt: t0}
	throttled := &types.ProvisionedThroughputExceededException{}
	for _, tt := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"written", nil, true},
		{"already written", &types.ConditionalCheckFailedException{}, true},
		{"throttled", throttled, false},
	} {
		err := New(answerPut{err: tt.err}, "t").PutAudit(context.Background(), rec)
		if (err == nil) != tt.ok {
			t.Errorf("%s: error %v, want success %v", tt.name, err, tt.ok)
		}
	}
}
