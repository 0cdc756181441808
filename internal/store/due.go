package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/retry"
)

// The due index (gsi2) holds every key that has something scheduled
// (key.Key.NextDue): gsi2pk DUE#KEY#<shard>, gsi2sk <due time>#<client id>.
// keyAttrs writes the entry, and UpdateKey removes it when nothing is
// scheduled, on every key write, so it cannot drift from the record. Keys
// are spread over dueKeyShards partitions by a hash of the client ID, so no
// single index partition takes every key's writes.
const (
	dueKeyPrefix = "DUE#KEY#"
	dueKeyShards = 8
)

// dueMaxTime bounds due times to what fmtTime writes at a fixed width.
var dueMaxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

func dueKeyShard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % dueKeyShards)
}

func dueKeyPK(shard int) string { return dueKeyPrefix + strconv.Itoa(shard) }

func dueKeySK(t time.Time, id string) string {
	if t.After(dueMaxTime) {
		t = dueMaxTime
	}
	return fmtTime(t) + "#" + id
}

// putDueEntry adds k's due index attributes when something is scheduled.
func putDueEntry(m map[string]types.AttributeValue, k *key.Key) {
	next := k.NextDue()
	if next == nil {
		return
	}
	m[attrGSI2PK] = avS(dueKeyPK(dueKeyShard(k.ID)))
	m[attrGSI2SK] = avS(dueKeySK(*next, k.ID))
}

// DueKey is a key whose next due time has come, as the due index lists it.
// The index is eventually consistent: read the key itself before acting.
type DueKey struct {
	ID  string
	Due time.Time
}

// DueKeys returns up to limit keys due at now (next due time at or before
// now), oldest due first within each shard, reading nothing but due index
// entries: one Query per shard and page, bounded by now. next is "" after the
// last page; otherwise pass it back to read on. A key handled between pages
// leaves the due range and is not returned again; one still due is, in the
// next run.
func (s *Store) DueKeys(ctx context.Context, now time.Time, cursor string, limit int) (keys []DueKey, next string, err error) {
	if limit < 1 || limit > 1000 {
		return nil, "", fmt.Errorf("store: due keys: limit %d outside 1..1000", limit)
	}
	shard, start, err := decodeDueCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	// Every entry due at or before now sorts below "<now>$" ('$' follows '#').
	hi := fmtTime(now) + "$"
	for shard < dueKeyShards {
		in := &dynamodb.QueryInput{
			TableName:              aws.String(s.table),
			IndexName:              aws.String(indexGSI2),
			KeyConditionExpression: aws.String("#pk = :pk AND #sk < :hi"),
			ProjectionExpression:   aws.String("#sk"),
			ExpressionAttributeNames: map[string]string{
				"#pk": attrGSI2PK, "#sk": attrGSI2SK,
			},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":pk": avS(dueKeyPK(shard)), ":hi": avS(hi),
			},
			Limit: aws.Int32(int32(limit - len(keys))),
		}
		if start != "" {
			in.ExclusiveStartKey = dueStartKey(shard, start)
		}
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("store: due keys: shard %d: %w", shard, err)
		}
		for _, item := range out.Items {
			sk := stringAttr(item, attrGSI2SK)
			dk, ok := parseDueKeySK(sk)
			if !ok {
				return nil, "", fmt.Errorf("store: due keys: shard %d: malformed entry %q", shard, sk)
			}
			keys = append(keys, dk)
			start = sk
		}
		if len(out.LastEvaluatedKey) == 0 {
			shard, start = shard+1, ""
		} else if sk := stringAttr(out.LastEvaluatedKey, attrGSI2SK); sk != "" {
			start = sk
		}
		if len(keys) >= limit {
			break
		}
	}
	if shard >= dueKeyShards {
		return keys, "", nil
	}
	return keys, encodeDueCursor(shard, start), nil
}

// dueStartKey is the index position of the entry sk in shard: the index's
// keys and the table's.
func dueStartKey(shard int, sk string) map[string]types.AttributeValue {
	id := sk[strings.LastIndexByte(sk, '#')+1:]
	return map[string]types.AttributeValue{
		attrGSI2PK: avS(dueKeyPK(shard)),
		attrGSI2SK: avS(sk),
		attrPK:     avS(keyPK(id)),
		attrSK:     avS(keySK),
	}
}

func parseDueKeySK(sk string) (DueKey, bool) {
	n := len(timeLayout)
	if len(sk) < n+2 || sk[n] != '#' {
		return DueKey{}, false
	}
	t, ok := parseFixedTime(sk[:n])
	id := sk[n+1:]
	if !ok || !key.ValidClientID(id) {
		return DueKey{}, false
	}
	return DueKey{ID: id, Due: t}, true
}

var errBadDueCursor = errors.New("store: due keys: cursor is not valid")

// A due cursor is base64url("<shard>|<gsi2sk of the last entry read>"); the
// entry part is empty when the shard is to be read from its start. It is
// internal to the job that reads the index and never leaves it.
func encodeDueCursor(shard int, sk string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(shard) + "|" + sk))
}

func decodeDueCursor(c string) (shard int, sk string, err error) {
	if c == "" {
		return 0, "", nil
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(c)
	if err != nil {
		return 0, "", errBadDueCursor
	}
	n, sk, ok := strings.Cut(string(raw), "|")
	shard, err = strconv.Atoi(n)
	if !ok || err != nil || shard < 0 || shard >= dueKeyShards {
		return 0, "", errBadDueCursor
	}
	if sk != "" {
		if _, ok := parseDueKeySK(sk); !ok {
			return 0, "", errBadDueCursor
		}
	}
	return shard, sk, nil
}

// BatchWriteAPI is the part of the DynamoDB client LoadKeys uses.
type BatchWriteAPI interface {
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// maxBatchWrite is DynamoDB's limit on the items of one BatchWriteItem.
const maxBatchWrite = 25

// LoadKeys writes keys as they would be created (revision 1, due index entry
// included) with BatchWriteItem, without conditions, events or audit
// records. It is for filling a fresh table in load runs and tools, never for
// the service: it overwrites what is there.
func LoadKeys(ctx context.Context, api BatchWriteAPI, table string, keys []*key.Key) error {
	for len(keys) > 0 {
		n := min(len(keys), maxBatchWrite)
		reqs := make([]types.WriteRequest, n)
		for i, k := range keys[:n] {
			if err := checkKey(k); err != nil {
				return fmt.Errorf("store: load keys: %w", err)
			}
			reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: keyItem(k, 1)}}
		}
		keys = keys[n:]
		for attempt := 0; len(reqs) > 0; attempt++ {
			if attempt > 0 {
				if attempt > 10 {
					return fmt.Errorf("store: load keys: %d items still unprocessed", len(reqs))
				}
				if err := retry.Sleep(ctx, time.Duration(attempt*attempt)*10*time.Millisecond); err != nil {
					return err
				}
			}
			out, err := api.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{table: reqs},
			})
			if err != nil {
				return fmt.Errorf("store: load keys: %w", err)
			}
			reqs = out.UnprocessedItems[table]
		}
	}
	return nil
}

// ScanAPI is the part of the DynamoDB client ScanKeyEvents uses.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// ScanKeyEvents returns every outbox event about the key keyID, oldest first
// by creation time. It scans the whole table, so it is for tests and local
// tools that count what a run announced, never for the service.
func ScanKeyEvents(ctx context.Context, api ScanAPI, table, keyID string) ([]outbox.Event, error) {
	in := &dynamodb.ScanInput{
		TableName:                aws.String(table),
		ConsistentRead:           aws.Bool(true),
		FilterExpression:         aws.String("begins_with(#pk, :event) AND #res = :id"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#res": eResourceID},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":event": avS(eventPK("")), ":id": avS(keyID),
		},
	}
	var events []outbox.Event
	for {
		out, err := api.Scan(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("store: scan events of %s: %w", keyID, err)
		}
		for _, item := range out.Items {
			e, err := eventFromItem(item)
			if err != nil {
				return nil, fmt.Errorf("store: scan events of %s: %w", keyID, err)
			}
			events = append(events, e)
		}
		if len(out.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
	slices.SortStableFunc(events, func(a, b outbox.Event) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return events, nil
}
