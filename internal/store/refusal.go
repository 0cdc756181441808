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

// Bookkeeping items of the coalescing (both removed by TTL):
//
//	refusal      pk REFUSAL#<merchant id>#<sha256 hex of actor, action, outcome, resource>
//	             sk <window start unix>  rec_sk: the sort key of the record it adds to
//	budget       pk REFUSALS#<merchant id>#<sha256 hex of actor>  sk <window start unix>
//	             n: records naming a resource this actor has been given this window
const (
	attrRecSK = "rec_sk"
	attrRecAt = "rec_at"
)

func refusalPK(r *AuditRecord, resource string) string {
	return "REFUSAL#" + r.MerchantID + "#" + hashFields(r.Actor, r.Action, r.Outcome, resource)
}

func refusalBudgetPK(r *AuditRecord) string {
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
// details. r.ID and r.CreatedAt are used only when a record is started.
func (s *Store) RecordRefusal(ctx context.Context, r *AuditRecord) error {
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

	// Claim (or find) the record this refusal adds to.
	b := mustBuildUpdate(ifNotExists(expression.UpdateBuilder{}, map[string]types.AttributeValue{
		attrRecSK: avS(auditSK(r)), attrRecAt: avTime(r.CreatedAt), kID: avS(r.ID),
	}).Set(attrOf(attrTTL), val(ttl)), nil)
	in := s.updateItem(itemKey(refusalPK(r, resource), windowSK), b)
	in.ReturnValues = types.ReturnValueAllNew
	claim, err := s.api.UpdateItem(ctx, in)
	if err != nil {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	recSK, recAt, recID := stringAttr(claim.Attributes, attrRecSK), claim.Attributes[attrRecAt], claim.Attributes[kID]
	if recSK == "" || recAt == nil || recID == nil {
		return errors.New("store: record refusal: claim without a record")
	}

	// Add to the record, starting it with r's details if it is new.
	start := map[string]types.AttributeValue{kID: recID, kMerchantID: avS(r.MerchantID), kCreatedAt: recAt}
	fields := map[string]string{
		aActor: r.Actor, aRole: r.Role, aAction: r.Action, aResourceType: r.ResourceType,
		eResourceID: resource, aOutcome: r.Outcome, aSourceIP: r.SourceIP, aRequestID: r.RequestID,
	}
	for n, v := range fields {
		if v != "" {
			start[n] = avS(v)
		}
	}
	b = mustBuildUpdate(ifNotExists(expression.Add(attrOf(aCount), val(avN(1))), start), nil)
	_, err = s.api.UpdateItem(ctx, s.updateItem(itemKey(auditPK(r.MerchantID), recSK), b))
	if err != nil {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	return nil
}
