// Package store is the DynamoDB adapter: it owns every DynamoDB call the
// service makes and keeps everything in one table.
//
// The table has a partition key pk (S) and a sort key sk (S), a global
// secondary index gsi1 on gsi1pk (S) / gsi1sk (S) projecting all attributes,
// a sparse "due" index gsi2 on gsi2pk (S) / gsi2sk (S) projecting all
// attributes (an item is in it only while something about it is due: gsi2pk
// names the kind of work, gsi2sk starts with the time it is due, so a worker
// reads only what is due),
// the TTL attribute ttl (unix seconds) and a stream of new and old images.
// Items (times are UTC, fixed-width RFC 3339 with nanoseconds, so that they
// sort as strings):
//
//	key          pk KEY#<client id>                  sk KEY
//	             gsi1pk MERCHANT#<merchant id>#KEYS  gsi1sk <created_at>#<client id>
//	             gsi2pk DUE#KEY#<shard 0..7> gsi2sk <next due>#<client id>, while key.NextDue is set;
//	             shard: FNV-1a of the client ID mod 8; written by every key write (keyAttrs)
//	usage day    pk USAGE#<client id>                sk DAY#<YYYY-MM-DD>  ttl day+400d
//	             allowed, denied_<CODE>: decision counts of that UTC day, added to with ADD
//	last use     pk USAGE#<client id>                sk LAST_USED
//	             last_used_at, last_used_ip: written by SetLastUsed only
//	outbox event pk EVENT#<event id>                 sk EVENT            ttl created_at+30d
//	             gsi2pk DUE#OUTBOX gsi2sk <created_at>#<event id>, until fanned out
//	endpoint     pk WEBHOOK#<endpoint id>            sk WEBHOOK
//	             gsi1pk MERCHANT#<merchant id>#WEBHOOKS  gsi1sk <created_at>#<endpoint id>
//	             gsi2pk DUE#WEBHOOK gsi2sk <secret_rotation_ends_at>#<endpoint id>, while two secrets sign
//	delivery     pk WEBHOOK#<endpoint id>            sk DELIVERY#<event id>  ttl created_at+30d
//	             gsi1pk WEBHOOK#<endpoint id>#DELIVERIES  gsi1sk <created_at>#<event id>
//	             gsi2pk DUE#DELIVERY gsi2sk <next_attempt_at>#<endpoint id>#<event id>, while pending
//	audit record pk AUDIT#<merchant id>              sk <created_at>#<audit id>
//	             put once (attribute_not_exists), never updated or deleted
//	idempotency  pk IDEM#<merchant id>#<sha256 hex of user, key> sk IDEM  ttl created_at+24h
//	rate window  pk RATE#<name>                      sk <window start unix>  ttl window end+window
//	count        pk MERCHANT#<merchant id>#COUNT     sk KEYS | WEBHOOKS  (count.go)
//	refusal      pk REFUSAL#… and REFUSALS#…         sk <window start unix>  (refusal.go)
//	nonce        pk NONCE#<client id>#<nonce>        sk NONCE  ttl the signature's expiry (nonce.go)
//	feed entry   pk FEED                             sk <unix ms>#<client id>  ttl +1h (feed.go)
//
// Every change to a key that must notify someone or be audited is written in
// one TransactWriteItems together with its outbox events, audit record and
// idempotency record (see Extras): either all of them are written or none.
// Outbox events reach their consumers through the table's stream (INSERT
// records of items whose pk starts with EVENT#); their removal by TTL is not
// an event.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client
// implements it; tests may wrap one to inject faults.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
}

var _ API = (*dynamodb.Client)(nil)

// ErrStale means the key changed since the caller read it: a concurrent
// update won. It wraps nothing; callers may read the key again and retry.
var ErrStale = errors.New("stale revision")

// ErrIdempotencyTaken means an idempotency record for the same merchant and
// Idempotency-Key already exists (or is being written by a concurrent
// request), so nothing was written.
var ErrIdempotencyTaken = errors.New("idempotency key already used")

// Store reads and writes the service's items in one DynamoDB table. It is
// safe for concurrent use.
type Store struct {
	api       API
	table     string
	cursorKey []byte
	now       func() time.Time
	pageSize  int // index entries a filtered list evaluates per Query
}

// Option configures a Store.
type Option func(*Store)

// defaultCursorKey authenticates list cursors when no key is configured. It
// is public, so it only proves that a cursor has the shape the store issues;
// tenant isolation never depends on it (see ListKeys).
var defaultCursorKey = []byte("paykeys/store/cursor/v1")

// WithCursorKey sets the key that authenticates list cursors, so that only
// cursors issued by this deployment are accepted. Every instance of the
// service must use the same key (at least 32 random bytes); an empty key
// keeps the default.
func WithCursorKey(k []byte) Option {
	return func(s *Store) {
		if len(k) > 0 {
			s.cursorKey = append([]byte(nil), k...)
		}
	}
}

// New returns a Store that keeps its items in table through api.
func New(api API, table string, opts ...Option) *Store {
	s := &Store{api: api, table: table, cursorKey: defaultCursorKey, now: time.Now, pageSize: filteredPageSize}
	for _, o := range opts {
		o(s)
	}
	return s
}
