package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// Partitions of the due index.
const (
	dueOutbox   = "DUE#OUTBOX"
	dueDelivery = "DUE#DELIVERY"
	dueWebhook  = "DUE#WEBHOOK"
)

const (
	endpointSK  = "WEBHOOK"
	deliveryTTL = 30 * 24 * time.Hour
)

func endpointPK(id string) string                { return "WEBHOOK#" + id }
func merchantEndpointsPK(merchant string) string { return "MERCHANT#" + merchant + "#WEBHOOKS" }
func deliverySK(id string) string                { return "DELIVERY#" + id }
func endpointDeliveriesPK(endpoint string) string {
	return "WEBHOOK#" + endpoint + "#DELIVERIES"
}

// endpointRecord is the stored form of a hook.Endpoint.
type endpointRecord struct {
	ID                   string     `dynamodbav:"id"`
	MerchantID           string     `dynamodbav:"merchant_id"`
	URL                  string     `dynamodbav:"url"`
	EventTypes           []string   `dynamodbav:"event_types"`
	Description          string     `dynamodbav:"description"`
	Status               string     `dynamodbav:"status"`
	DisabledReason       string     `dynamodbav:"disabled_reason,omitempty"`
	SecretVersionID      string     `dynamodbav:"secret_version_id"`
	PrevSecretVersionID  string     `dynamodbav:"prev_secret_version_id,omitempty"`
	SecretRotationEndsAt *time.Time `dynamodbav:"secret_rotation_ends_at,omitempty"`
	FailingSince         *time.Time `dynamodbav:"failing_since,omitempty"`
	CreatedAt            time.Time  `dynamodbav:"created_at"`
	UpdatedAt            time.Time  `dynamodbav:"updated_at"`
	Revision             int64      `dynamodbav:"revision"`
}

func endpointRecordOf(e *hook.Endpoint) endpointRecord {
	return endpointRecord{
		ID: e.ID, MerchantID: e.MerchantID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description,
		Status: string(e.Status), DisabledReason: e.DisabledReason, SecretVersionID: e.SecretVersionID,
		PrevSecretVersionID: e.PrevSecretVersionID, SecretRotationEndsAt: e.SecretRotationEndsAt,
		FailingSince: e.FailingSince, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, Revision: e.Revision,
	}
}

func (r *endpointRecord) endpoint() *hook.Endpoint {
	return &hook.Endpoint{
		ID: r.ID, MerchantID: r.MerchantID, URL: r.URL, EventTypes: r.EventTypes, Description: r.Description,
		Status: hook.EndpointStatus(r.Status), DisabledReason: r.DisabledReason, SecretVersionID: r.SecretVersionID,
		PrevSecretVersionID: r.PrevSecretVersionID, SecretRotationEndsAt: r.SecretRotationEndsAt,
		FailingSince: r.FailingSince, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Revision: r.Revision,
	}
}

// attemptRecord is the stored form of a hook.Attempt.
type attemptRecord struct {
	At             time.Time `dynamodbav:"at"`
	ResponseStatus int       `dynamodbav:"response_status"`
	LatencyMS      int64     `dynamodbav:"latency_ms"`
	Error          string    `dynamodbav:"error"`
	ResponseBody   string    `dynamodbav:"response_body"`
}

// deliveryRecord is the stored form of a hook.Delivery.
type deliveryRecord struct {
	ID            string          `dynamodbav:"id"`
	EndpointID    string          `dynamodbav:"endpoint_id"`
	MerchantID    string          `dynamodbav:"merchant_id"`
	EventType     string          `dynamodbav:"event_type"`
	Status        string          `dynamodbav:"status"`
	Attempts      []attemptRecord `dynamodbav:"attempts"`
	NextAttemptAt *time.Time      `dynamodbav:"next_attempt_at,omitempty"`
	CreatedAt     time.Time       `dynamodbav:"created_at"`
	Revision      int64           `dynamodbav:"revision"`
}

func deliveryRecordOf(d *hook.Delivery) deliveryRecord {
	r := deliveryRecord{
		ID: d.ID, EndpointID: d.EndpointID, MerchantID: d.MerchantID, EventType: d.EventType,
		Status: string(d.Status), NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt, Revision: d.Revision,
	}
	if d.Attempts != nil {
		r.Attempts = make([]attemptRecord, len(d.Attempts))
		for i, a := range d.Attempts {
			r.Attempts[i] = attemptRecord(a)
		}
	}
	return r
}

func (r *deliveryRecord) delivery() *hook.Delivery {
	d := &hook.Delivery{
		ID: r.ID, EndpointID: r.EndpointID, MerchantID: r.MerchantID, EventType: r.EventType,
		Status: hook.DeliveryStatus(r.Status), NextAttemptAt: r.NextAttemptAt, CreatedAt: r.CreatedAt, Revision: r.Revision,
	}
	if r.Attempts != nil {
		d.Attempts = make([]hook.Attempt, len(r.Attempts))
		for i, a := range r.Attempts {
			d.Attempts[i] = hook.Attempt(a)
		}
	}
	return d
}

func endpointItem(e *hook.Endpoint) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(endpointRecordOf(e))
	if err != nil {
		return nil, err
	}
	m[attrPK] = avS(endpointPK(e.ID))
	m[attrSK] = avS(endpointSK)
	m[attrGSI1PK] = avS(merchantEndpointsPK(e.MerchantID))
	m[attrGSI1SK] = avS(fmtTime(e.CreatedAt) + "#" + e.ID)
	if e.PrevSecretVersionID != "" && e.SecretRotationEndsAt != nil {
		m[attrGSI2PK] = avS(dueWebhook)
		m[attrGSI2SK] = avS(fmtTime(*e.SecretRotationEndsAt) + "#" + e.ID)
	}
	return m, nil
}

func deliveryItem(d *hook.Delivery) (map[string]types.AttributeValue, error) {
	m, err := attributevalue.MarshalMap(deliveryRecordOf(d))
	if err != nil {
		return nil, err
	}
	m[attrPK] = avS(endpointPK(d.EndpointID))
	m[attrSK] = avS(deliverySK(d.ID))
	m[attrGSI1PK] = avS(endpointDeliveriesPK(d.EndpointID))
	m[attrGSI1SK] = avS(fmtTime(d.CreatedAt) + "#" + d.ID)
	m[attrTTL] = avN(d.CreatedAt.Add(deliveryTTL).Unix())
	if d.Status == hook.DeliveryPending && d.NextAttemptAt != nil {
		m[attrGSI2PK] = avS(dueDelivery)
		m[attrGSI2SK] = avS(fmtTime(*d.NextAttemptAt) + "#" + d.EndpointID + "#" + d.ID)
	}
	return m, nil
}

// putRevision writes item, new (rev 0: it must not exist) or replacing revision rev.
func (s *Store) putRevision(item map[string]types.AttributeValue, rev int64) *types.Put {
	p := &types.Put{TableName: aws.String(s.table), Item: item}
	if rev == 0 {
		p.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		p.ExpressionAttributeNames = map[string]string{"#pk": attrPK}
	} else {
		p.ConditionExpression = aws.String("#rev = :rev")
		p.ExpressionAttributeNames = map[string]string{"#rev": kRevision}
		p.ExpressionAttributeValues = map[string]types.AttributeValue{":rev": avN(rev)}
	}
	return p
}

// transact runs items as one transaction; a failed condition is ErrStale
// (which also wraps the cancellation, for callers that look at its reasons).
func (s *Store) transact(ctx context.Context, what string, items []types.TransactWriteItem) error {
	_, err := s.api.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var tce *types.TransactionCanceledException
	if errors.As(err, &tce) {
		for _, r := range tce.CancellationReasons {
			if c := aws.ToString(r.Code); c == codeConditionFailed || c == codeTransactionConflict {
				return fmt.Errorf("store: %s: %w: %w", what, ErrStale, tce)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}

// auditPut writes a new audit record inside a transaction.
func (s *Store) auditPut(a *key.AuditRecord) types.TransactWriteItem {
	return types.TransactWriteItem{Put: s.putRevision(auditItem(a), 0)}
}

// SaveEndpoint writes e with its audit record in one transaction: a new
// endpoint when e.Revision is 0 (as CreateEndpoint with no limit), otherwise
// a change to the stored revision e.Revision (ErrStale when another change
// won). On success e.Revision is the new revision.
func (s *Store) SaveEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord) error {
	if e.Revision == 0 {
		return s.CreateEndpoint(ctx, e, a, 0)
	}
	return s.saveEndpoint(ctx, e, a, 0)
}

// CreateEndpoint writes a new endpoint with its audit record in one
// transaction, counting it against its merchant's limit of endpoints: when
// limit of them are already counted it writes nothing and returns
// ErrLimitReached (limit 0: no limit). A concurrent write of the merchant's
// count is ErrStale; the create may be tried again.
func (s *Store) CreateEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord, limit int) error {
	if e.Revision != 0 {
		return fmt.Errorf("store: create endpoint %s: revision %d is not new", e.ID, e.Revision)
	}
	return s.saveEndpoint(ctx, e, a, limit)
}

func (s *Store) saveEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord, limit int) error {
	prev := e.Revision
	e.Revision++
	item, err := endpointItem(e)
	if err != nil {
		e.Revision = prev
		return fmt.Errorf("store: save endpoint %s: %w", e.ID, err)
	}
	items := []types.TransactWriteItem{{Put: s.putRevision(item, prev)}}
	if prev == 0 {
		items = append(items, s.countUp(e.MerchantID, countWebhooks, limit))
	}
	if a != nil {
		items = append(items, s.auditPut(a))
	}
	err = s.transact(ctx, "save endpoint "+e.ID, items)
	if err != nil {
		e.Revision = prev
		var tce *types.TransactionCanceledException
		if prev == 0 && errors.As(err, &tce) && len(tce.CancellationReasons) > 1 &&
			aws.ToString(tce.CancellationReasons[1].Code) == codeConditionFailed {
			return fmt.Errorf("store: create endpoint %s: %w", e.ID, ErrLimitReached)
		}
		return err
	}
	return nil
}

// DeleteEndpoint deletes e if it is still at e.Revision, with its audit
// record, and counts one endpoint fewer for its merchant. Its deliveries stay for their log until TTL removes them; pending
// ones are never attempted again (the worker finds no endpoint).
func (s *Store) DeleteEndpoint(ctx context.Context, e *hook.Endpoint, a *key.AuditRecord) error {
	items := []types.TransactWriteItem{{Delete: &types.Delete{
		TableName:                 aws.String(s.table),
		Key:                       itemKey(endpointPK(e.ID), endpointSK),
		ConditionExpression:       aws.String("#rev = :rev"),
		ExpressionAttributeNames:  map[string]string{"#rev": kRevision},
		ExpressionAttributeValues: map[string]types.AttributeValue{":rev": avN(e.Revision)},
	}}, s.countDown(e.MerchantID, countWebhooks)}
	if a != nil {
		items = append(items, s.auditPut(a))
	}
	return s.transact(ctx, "delete endpoint "+e.ID, items)
}

// GetEndpoint reads an endpoint consistently; a missing one wraps key.ErrNotFound.
func (s *Store) GetEndpoint(ctx context.Context, id string) (*hook.Endpoint, error) {
	var e endpointRecord
	if err := s.getItem(ctx, itemKey(endpointPK(id), endpointSK), &e); err != nil {
		if errors.Is(err, key.ErrNotFound) {
			return nil, key.NotFound("webhook endpoint", id)
		}
		return nil, fmt.Errorf("store: get endpoint %s: %w", id, err)
	}
	return e.endpoint(), nil
}

// GetDelivery reads a delivery consistently; a missing one wraps key.ErrNotFound.
func (s *Store) GetDelivery(ctx context.Context, endpointID, id string) (*hook.Delivery, error) {
	var d deliveryRecord
	if err := s.getItem(ctx, itemKey(endpointPK(endpointID), deliverySK(id)), &d); err != nil {
		if errors.Is(err, key.ErrNotFound) {
			return nil, key.NotFound("delivery", id)
		}
		return nil, fmt.Errorf("store: get delivery %s: %w", id, err)
	}
	return d.delivery(), nil
}

// GetEvent reads an outbox event; a missing one (or one past its TTL)
// wraps key.ErrNotFound.
func (s *Store) GetEvent(ctx context.Context, id string) (*outbox.Event, error) {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(eventPK(id), eventSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("store: get event %s: %w", id, err)
	}
	if len(out.Item) == 0 {
		return nil, key.NotFound("event", id)
	}
	e, err := eventFromItem(out.Item)
	if err != nil {
		return nil, fmt.Errorf("store: get event %s: %w", id, err)
	}
	return &e, nil
}

func (s *Store) getItem(ctx context.Context, k map[string]types.AttributeValue, v any) error {
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: k, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return err
	}
	if len(out.Item) == 0 {
		return key.ErrNotFound
	}
	return attributevalue.UnmarshalMap(out.Item, v)
}

// ListEndpoints returns a page of a merchant's endpoints, newest first.
func (s *Store) ListEndpoints(ctx context.Context, merchantID string, limit int, cur string) ([]*hook.Endpoint, string, error) {
	page, next, err := listPage[endpointRecord](ctx, s, cursorEndpoints, merchantID, merchantEndpointsPK(merchantID), limit, cur,
		func(id string) map[string]types.AttributeValue { return itemKey(endpointPK(id), endpointSK) },
		func(e *endpointRecord) (string, bool) { return e.ID, e.MerchantID == merchantID })
	return mapAll(page, (*endpointRecord).endpoint), next, err
}

// ListDeliveries returns a page of an endpoint's deliveries, newest first.
// The caller has checked that the endpoint belongs to merchantID.
func (s *Store) ListDeliveries(ctx context.Context, merchantID, endpointID string, limit int, cur string) ([]*hook.Delivery, string, error) {
	page, next, err := listPage[deliveryRecord](ctx, s, cursorDeliveries, merchantID+"/"+endpointID, endpointDeliveriesPK(endpointID), limit, cur,
		func(id string) map[string]types.AttributeValue {
			return itemKey(endpointPK(endpointID), deliverySK(id))
		},
		func(d *deliveryRecord) (string, bool) { return d.ID, d.MerchantID == merchantID })
	return mapAll(page, (*deliveryRecord).delivery), next, err
}

// listPage reads one page of gsi1 partition pk, newest first. keyOf is the
// primary key of the item with an ID; owned returns an item's ID and whether
// it belongs to the list's owner; the cursor is bound to owner.
func listPage[T any](ctx context.Context, s *Store, kind, owner, pk string, limit int, cur string,
	keyOf func(id string) map[string]types.AttributeValue, owned func(*T) (string, bool)) ([]*T, string, error) {
	limit, err := listLimit(limit)
	if err != nil {
		return nil, "", err
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(pk)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(limit + 1)),
	}
	if cur != "" {
		c, err := s.decodeCursor(kind, owner, cur)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = keyOf(c.I)
		in.ExclusiveStartKey[attrGSI1PK] = avS(pk)
		in.ExclusiveStartKey[attrGSI1SK] = avS(c.S)
	}
	page := make([]*T, 0, limit)
	var lastSK string
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("store: list %s: %w", kind, err)
		}
		for _, item := range out.Items {
			v := new(T)
			if err := attributevalue.UnmarshalMap(item, v); err != nil {
				return nil, "", fmt.Errorf("store: list %s: %w", kind, err)
			}
			id, ok := owned(v)
			if !ok {
				return nil, "", fmt.Errorf("store: list %s: item %s belongs to someone else", kind, id)
			}
			if len(page) == limit {
				prevID, _ := owned(page[limit-1])
				return page, s.encodeCursor(kind, owner, cursor{S: lastSK, I: prevID}), nil
			}
			page = append(page, v)
			lastSK = stringAttr(item, attrGSI1SK)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return page, "", nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// AllEndpoints returns every endpoint of a merchant (at most a few dozen),
// for fan-out and the per-merchant limit.
func (s *Store) AllEndpoints(ctx context.Context, merchantID string) ([]*hook.Endpoint, error) {
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		IndexName:                 aws.String(indexGSI1),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrGSI1PK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(merchantEndpointsPK(merchantID))},
	}
	var all []*hook.Endpoint
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: endpoints of %s: %w", merchantID, err)
		}
		for _, item := range out.Items {
			var e endpointRecord
			if err := attributevalue.UnmarshalMap(item, &e); err != nil {
				return nil, fmt.Errorf("store: endpoints of %s: %w", merchantID, err)
			}
			all = append(all, e.endpoint())
		}
		if len(out.LastEvaluatedKey) == 0 {
			return all, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// SaveDelivery writes d: new when d.Revision is 0 (a delivery that already
// exists is left alone and reported as ErrStale), otherwise replacing the
// stored revision d.Revision. On success d.Revision is the new revision.
func (s *Store) SaveDelivery(ctx context.Context, d *hook.Delivery) error {
	prev := d.Revision
	d.Revision++
	item, err := deliveryItem(d)
	if err != nil {
		d.Revision = prev
		return fmt.Errorf("store: save delivery %s: %w", d.ID, err)
	}
	_, err = s.api.PutItem(ctx, putInput(s.putRevision(item, prev)))
	var ccf *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &ccf):
		d.Revision = prev
		return fmt.Errorf("store: save delivery %s: %w", d.ID, ErrStale)
	case err != nil:
		d.Revision = prev
		return fmt.Errorf("store: save delivery %s: %w", d.ID, err)
	}
	return nil
}

// RetryDelivery writes d, a delivery made due again by a caller, replacing
// the stored revision d.Revision, together with the audit record of the
// retry, in one transaction (ErrStale when another change won). On success
// d.Revision is the new revision.
func (s *Store) RetryDelivery(ctx context.Context, d *hook.Delivery, a *key.AuditRecord) error {
	prev := d.Revision
	if prev == 0 || a == nil {
		return fmt.Errorf("store: retry delivery %s: not a stored delivery with an audit record", d.ID)
	}
	d.Revision++
	item, err := deliveryItem(d)
	if err != nil {
		d.Revision = prev
		return fmt.Errorf("store: retry delivery %s: %w", d.ID, err)
	}
	items := []types.TransactWriteItem{{Put: s.putRevision(item, prev)}, s.auditPut(a)}
	if err := s.transact(ctx, "retry delivery "+d.ID, items); err != nil {
		d.Revision = prev
		return err
	}
	return nil
}

func putInput(p *types.Put) *dynamodb.PutItemInput {
	return &dynamodb.PutItemInput{
		TableName: p.TableName, Item: p.Item, ConditionExpression: p.ConditionExpression,
		ExpressionAttributeNames: p.ExpressionAttributeNames, ExpressionAttributeValues: p.ExpressionAttributeValues,
	}
}

// SaveTestEvent writes a webhook.test event for one endpoint together with
// its pending delivery and the audit record, in one transaction.
func (s *Store) SaveTestEvent(ctx context.Context, e outbox.Event, d *hook.Delivery, a *key.AuditRecord) error {
	d.Revision = 1
	item, err := deliveryItem(d)
	if err != nil {
		return fmt.Errorf("store: save test event: %w", err)
	}
	ev := eventItem(&e)
	items := []types.TransactWriteItem{
		{Put: s.putRevision(ev, 0)},
		{Put: s.putRevision(item, 0)},
	}
	if a != nil {
		items = append(items, s.auditPut(a))
	}
	return s.transact(ctx, "save test event "+e.ID, items)
}

// dueQuery lists what is due by now in one partition of the due index, oldest
// first, at most limit items.
func dueQuery[T any](ctx context.Context, s *Store, partition string, now time.Time, limit int, decode func(map[string]types.AttributeValue) (T, error)) ([]T, error) {
	out, err := s.api.Query(ctx, &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		IndexName:                aws.String(indexGSI2),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk <= :now"),
		ExpressionAttributeNames: map[string]string{"#pk": attrGSI2PK, "#sk": attrGSI2SK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(partition), ":now": avS(fmtTime(now) + "#~"),
		},
		Limit: aws.Int32(int32(limit)),
	})
	if err != nil {
		return nil, fmt.Errorf("store: due %s: %w", partition, err)
	}
	res := make([]T, 0, len(out.Items))
	for _, item := range out.Items {
		v, err := decode(item)
		if err != nil {
			return nil, fmt.Errorf("store: due %s: %w", partition, err)
		}
		res = append(res, v)
	}
	return res, nil
}

// decodeRecord reads an item into its record type R and maps that to the
// domain type D.
func decodeRecord[R any, D any](conv func(*R) D) func(map[string]types.AttributeValue) (D, error) {
	return func(item map[string]types.AttributeValue) (D, error) {
		r := new(R)
		if err := attributevalue.UnmarshalMap(item, r); err != nil {
			var zero D
			return zero, err
		}
		return conv(r), nil
	}
}

// mapAll maps each of rs with conv; nil stays nil.
func mapAll[R any, D any](rs []*R, conv func(*R) D) []D {
	if rs == nil {
		return nil
	}
	out := make([]D, len(rs))
	for i, r := range rs {
		out[i] = conv(r)
	}
	return out
}

// PendingEvents lists outbox events not yet fanned out, oldest first.
func (s *Store) PendingEvents(ctx context.Context, now time.Time, limit int) ([]outbox.Event, error) {
	return dueQuery(ctx, s, dueOutbox, now, limit, eventFromItem)
}

// DueDeliveries lists pending deliveries whose next attempt is due.
func (s *Store) DueDeliveries(ctx context.Context, now time.Time, limit int) ([]*hook.Delivery, error) {
	return dueQuery(ctx, s, dueDelivery, now, limit, decodeRecord((*deliveryRecord).delivery))
}

// EndedOverlaps lists endpoints whose secret rotation overlap has ended.
func (s *Store) EndedOverlaps(ctx context.Context, now time.Time, limit int) ([]*hook.Endpoint, error) {
	return dueQuery(ctx, s, dueWebhook, now, limit, decodeRecord((*endpointRecord).endpoint))
}

// FannedOut takes an outbox event out of the due index once a delivery
// exists for each endpoint it goes to.
func (s *Store) FannedOut(ctx context.Context, eventID string) error {
	cond := attrOf(attrPK).AttributeExists()
	b := mustBuildUpdate(expression.Remove(attrOf(attrGSI2PK)).Remove(attrOf(attrGSI2SK)), &cond)
	_, err := s.api.UpdateItem(ctx, s.updateItem(itemKey(eventPK(eventID), eventSK), b))
	var ccf *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &ccf) {
		return fmt.Errorf("store: event %s fanned out: %w", eventID, err)
	}
	return nil
}
