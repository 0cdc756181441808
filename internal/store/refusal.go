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
		_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                 aws.String(s.table),
			Key:                       itemKey(refusalBudgetPK(r), windowSK),
			UpdateExpression:          aws.String("ADD #n :one SET #ttl = :ttl"),
			ConditionExpression:       aws.String("attribute_not_exists(#n) OR #n < :max"),
			ExpressionAttributeNames:  map[string]string{"#n": rCount, "#ttl": attrTTL},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": avN(1), ":max": avN(RefusalResources), ":ttl": ttl},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case errors.As(err, &ccf):
			resource = "" // over budget: into the record without a resource
		case err != nil:
			return fmt.Errorf("store: record refusal: %w", err)
		}
	}

	// Claim (or find) the record this refusal adds to.
	claim, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      itemKey(refusalPK(r, resource), windowSK),
		UpdateExpression:         aws.String("SET #sk = if_not_exists(#sk, :sk), #at = if_not_exists(#at, :at), #id = if_not_exists(#id, :id), #ttl = :ttl"),
		ExpressionAttributeNames: map[string]string{"#sk": attrRecSK, "#at": attrRecAt, "#id": kID, "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":sk": avS(auditSK(r)), ":at": avTime(r.CreatedAt), ":id": avS(r.ID), ":ttl": ttl,
		},
		ReturnValues: types.ReturnValueAllNew,
	})
	if err != nil {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	recSK, recAt, recID := stringAttr(claim.Attributes, attrRecSK), claim.Attributes[attrRecAt], claim.Attributes[kID]
	if recSK == "" || recAt == nil || recID == nil {
		return errors.New("store: record refusal: claim without a record")
	}

	// Add to the record, starting it with r's details if it is new.
	names := map[string]string{"#count": aCount}
	values := map[string]types.AttributeValue{":one": avN(1)}
	sets := ""
	set := func(name string, v types.AttributeValue) {
		n, p := "#f"+strconv.Itoa(len(names)), ":f"+strconv.Itoa(len(values))
		names[n], values[p] = name, v
		if sets != "" {
			sets += ", "
		}
		sets += n + " = if_not_exists(" + n + ", " + p + ")"
	}
	set(kID, recID)
	set(kMerchantID, avS(r.MerchantID))
	set(kCreatedAt, recAt)
	fields := map[string]string{
		aActor: r.Actor, aRole: r.Role, aAction: r.Action, aResourceType: r.ResourceType,
		eResourceID: resource, aOutcome: r.Outcome, aSourceIP: r.SourceIP, aRequestID: r.RequestID,
	}
	for _, name := range []string{aActor, aRole, aAction, aResourceType, eResourceID, aOutcome, aSourceIP, aRequestID} {
		if v := fields[name]; v != "" {
			set(name, avS(v))
		}
	}
	_, err = s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(auditPK(r.MerchantID), recSK),
		UpdateExpression:          aws.String("SET " + sets + " ADD #count :one"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil {
		return fmt.Errorf("store: record refusal: %w", err)
	}
	return nil
}
