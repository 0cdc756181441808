package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/paykeys/paykeys/internal/key"
)

// Refused changes (outcomes denied and conflict) are audited, but no caller
// may flood the audit log with them. Within each RefusalWindow, the refusals
// of one actor are coalesced into one record per action, outcome and
// resource, whose count says how many attempts it stands for; and an actor
// gets at most RefusalResources such records naming a resource per window.
// Refusals past that are coalesced into one record per action and outcome
// with no resource. So one actor adds at most
// RefusalResources + (actions x 2 outcomes) records per window, however many
// refused requests it sends.
const (
	RefusalWindow    = time.Hour
	RefusalResources = 20
)

// Bookkeeping items of the coalescing (the budget is removed by TTL):
//
//	refusal      pk REFUSAL#<merchant id>#<sha256 hex of actor, action, outcome, resource>
//	             sk <window start unix>  rec_sk: the sort key of the record it adds to
//	budget       pk REFUSALS#<merchant id>#<sha256 hex of actor>  sk <window start unix>
//	             n: records naming a resource this actor has been given this window
//
// The refusal item is the claim of the window's record: rec_sk, rec_at and
// id name the record, n counts its attempts, and it is kept as long as the
// record (no TTL), whose count it is. The record (an audit item) is put
// once and never changed; it names its claim in tally_pk and tally_sk, and
// ListAudit reads the count from there.
const (
	attrRecSK   = "rec_sk"
	attrRecAt   = "rec_at"
	attrTallyPK = "tally_pk"
	attrTallySK = "tally_sk"
)

func refusalPK(r *key.AuditRecord, resource string) string {
	return "REFUSAL#" + r.MerchantID + "#" + hashFields(r.Actor, r.Action, r.Outcome, resource)
}

func refusalBudgetPK(r *key.AuditRecord) string {
	return "REFUSALS#" + r.MerchantID + "#" + hashFields(r.Actor)
}

// hashFields hashes length-prefixed fields, so no two lists collide.
func hashFields(fields ...string) string {
	h := sha256.New()
	for _, f := range fields {
		h.Write([]byte(strconv.Itoa(len(f)) + ":" + f))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// RecordRefusal audits a refused change, coalesced as the constants above
// say: it either adds one to the count of this window's record for the same
// actor, action, outcome and resource, or starts that record with r's
// details. r.ID and r.CreatedAt are used only when a record is started. The
// record is appended once and never updated: its count is kept in its claim.
func (s *Store) RecordRefusal(ctx context.Context, r *key.AuditRecord) error {
	if r.MerchantID == "" || r.ID == "" || r.Actor == "" {
		return errors.New("store: record refusal: record without merchant, id or actor")
	}
	window := r.CreatedAt.UTC().Truncate(RefusalWindow)
	windowSK := strconv.FormatInt(window.Unix(), 10)
	ttl := avN(window.Add(2 * RefusalWindow).Unix())
	resource := r.ResourceID

	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(refusalPK(r, resource), windowSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	if len(out.Item) == 0 && resource != "" {
		// A new resource for this actor in this window: within budget?
		cond := expression.Or(attrOf(rCount).AttributeNotExists(), attrOf(rCount).LessThan(val(avN(RefusalResources))))
		b := mustBuildUpdate(expression.Add(attrOf(rCount), val(avN(1))).Set(attrOf(attrTTL), val(ttl)), &cond)
		_, err := s.api.UpdateItem(ctx, s.updateItem(itemKey(refusalBudgetPK(r), windowSK), b))
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			resource = "" // over budget: into the record without a resource
		case err != nil:
			return fmt.Errorf("store: record refusal: %w", err)
		}
	}

	// Claim (or find) the record this refusal adds to, and count the
	// attempt in the claim: the record itself is never changed.
	b := mustBuildUpdate(ifNotExists(expression.Add(attrOf(rCount), val(avN(1))), map[string]types.AttributeValue{
		attrRecSK: avS(auditSK(r)), attrRecAt: avTime(r.CreatedAt), kID: avS(r.ID),
	}), nil)
	in := s.updateItem(itemKey(refusalPK(r, resource), windowSK), b)
	in.ReturnValues = types.ReturnValueAllNew
	claim, err := s.api.UpdateItem(ctx, in)
	if err != nil {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	d := &decoder{item: claim.Attributes}
	rec := *r
	rec.ID, rec.CreatedAt, rec.ResourceID, rec.Count = d.s(kID, true), d.time(attrRecAt, true), resource, 1
	recSK := d.s(attrRecSK, true)
	if d.err != nil {
		return fmt.Errorf("store: record refusal: malformed claim: %w", d.err)
	}

	// Append the record, unless an earlier attempt of the window did.
	item := auditItem(&rec)
	item[attrSK] = avS(recSK)
	item[attrTallyPK], item[attrTallySK] = avS(refusalPK(r, resource)), avS(windowSK)
	_, err = s.api.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	var exists *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &exists) {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	return nil
}

// tallies sets the count of each coalesced refusal among recs (items, in the
// same order, being their items) from the claim that counts its attempts.
func (s *Store) tallies(ctx context.Context, recs []key.AuditRecord, items []map[string]types.AttributeValue) error {
	var lookups []map[string]types.AttributeValue
	at := map[string]int{}
	for i, item := range items {
		pk, sk := stringAttr(item, attrTallyPK), stringAttr(item, attrTallySK)
		if pk == "" || sk == "" {
			continue
		}
		at[pk+"\x00"+sk] = i
		lookups = append(lookups, itemKey(pk, sk))
	}
	for len(lookups) > 0 {
		n := min(len(lookups), maxBatchGet)
		got, err := s.batchGet(ctx, lookups[:n])
		if err != nil {
			return err
		}
		lookups = lookups[n:]
		for _, c := range got {
			i, ok := at[stringAttr(c, attrPK)+"\x00"+stringAttr(c, attrSK)]
			if n, found := (&decoder{item: c}).n(rCount, false); ok && found && n > 1 {
				recs[i].Count = int(n)
			}
		}
	}
	return nil
}
