package secret

import (
	"context"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoAPI is the part of the DynamoDB client the envelope store uses;
// *dynamodb.Client satisfies it.
type DynamoAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ DynamoAPI = (*dynamodb.Client)(nil)

// Item layout of the envelope store, in the service's one table:
//
//	secret version  pk SECRET#<prefix><name>   sk V#<version id>
//	                ct: 12-byte nonce ‖ AES-256-GCM ciphertext of the value
//	                kek: the KEK version that sealed it; stages: its staging labels
//	                gsi2pk KEK#<kek version>#<shard 0..7>  gsi2sk <prefix><name>#<version id>
//
// The gsi2 entry lists every ciphertext under a KEK version, so re-wrapping
// after a rotation reads exactly what is left to re-wrap, and a KEK is
// retired when its partitions are empty.
const (
	envPKPrefix = "SECRET#"
	envSKPrefix = "V#"
	envGSIIndex = "gsi2"
	envShards   = 8

	attrPK     = "pk"
	attrSK     = "sk"
	attrGSIPK  = "gsi2pk"
	attrGSISK  = "gsi2sk"
	attrCT     = "ct"
	attrKEK    = "kek"
	attrStages = "stages"
	attrName   = "name"
	attrVer    = "version"
	attrAt     = "created_at"
)

// aadLabel starts the associated data of every ciphertext.
const aadLabel = "paykeys/secret/v1"

// Envelope keeps each secret version in DynamoDB, only as an AES-256-GCM
// ciphertext under the current KEK of a Keyring, with associated data
// binding it to its name (the client ID, or the webhook endpoint's secret
// name) and its version ID: a ciphertext copied into another key's item, or
// another version, does not decrypt. It has the same methods, and the same
// meaning, as Store: staging labels are kept on each version's item.
// Retire destroys the version's item outright (which Secrets Manager cannot
// do for one version). It is safe for concurrent use.
type Envelope struct {
	db     DynamoAPI
	table  string
	prefix string
	keks   *Keyring
	now    func() time.Time
}

// NewEnvelope returns an envelope store writing to table, naming its
// secrets prefix+name, with the KEKs of keys.
func NewEnvelope(db DynamoAPI, table, prefix string, keks *Keyring) *Envelope {
	return &Envelope{db: db, table: table, prefix: prefix, keks: keks, now: time.Now}
}

// Name returns the full name of clientID's secret.
func (e *Envelope) Name(clientID string) string { return e.prefix + clientID }

// Keyring returns the store's KEKs.
func (e *Envelope) Keyring() *Keyring { return e.keks }

// Create stores the first version of a secret, labelled AWSCURRENT. A retry
// with the same version ID and value succeeds; the same version ID with
// another value is ErrExists.
func (e *Envelope) Create(ctx context.Context, name, versionID, value string) error {
	if err := e.put(ctx, name, versionID, value, StageCurrent); err != nil {
		return fmt.Errorf("secret %s: create: %w", name, err)
	}
	return nil
}

// Stage adds a version labelled AWSPENDING. Retrying with the same version
// ID and value succeeds.
func (e *Envelope) Stage(ctx context.Context, name, versionID, value string) error {
	if err := e.put(ctx, name, versionID, value, StagePending); err != nil {
		return fmt.Errorf("secret %s: stage: %w", name, err)
	}
	return nil
}

func (e *Envelope) put(ctx context.Context, name, versionID, value, stage string) error {
	if err := checkName(name, versionID); err != nil {
		return err
	}
	kv, aead, err := e.keks.Current(ctx)
	if err != nil {
		return err
	}
	item := e.item(name, versionID, kv, seal(aead, name, versionID, value))
	item[attrStages] = &types.AttributeValueMemberSS{Value: []string{stage}}
	item[attrAt] = &types.AttributeValueMemberS{Value: e.now().UTC().Format(time.RFC3339Nano)}
	_, err = e.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(e.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		// A retry: the same value under this version is success.
		got, gerr := e.Get(ctx, name, versionID)
		if gerr == nil && subtle.ConstantTimeCompare([]byte(got), []byte(value)) == 1 {
			return nil
		}
		return fmt.Errorf("version %s: %w", versionID, ErrExists)
	}
	if err != nil {
		return fmt.Errorf("version %s: put: %w", versionID, err)
	}
	return nil
}

// item returns the keys and ciphertext attributes of a version's item.
func (e *Envelope) item(name, versionID, kekVersion string, ct []byte) map[string]types.AttributeValue {
	full := e.prefix + name
	return map[string]types.AttributeValue{
		attrPK:    &types.AttributeValueMemberS{Value: envPKPrefix + full},
		attrSK:    &types.AttributeValueMemberS{Value: envSKPrefix + versionID},
		attrGSIPK: &types.AttributeValueMemberS{Value: kekPartition(kekVersion, full)},
		attrGSISK: &types.AttributeValueMemberS{Value: full + "#" + versionID},
		attrCT:    &types.AttributeValueMemberB{Value: ct},
		attrKEK:   &types.AttributeValueMemberS{Value: kekVersion},
		attrName:  &types.AttributeValueMemberS{Value: name},
		attrVer:   &types.AttributeValueMemberS{Value: versionID},
	}
}

// Get returns the value of one version; a version that does not exist is
// ErrNotFound. A ciphertext that fails to open (moved from another item,
// or altered) is an error, never a value.
func (e *Envelope) Get(ctx context.Context, name, versionID string) (string, error) {
	if err := checkName(name, versionID); err != nil {
		return "", fmt.Errorf("secret %s: get: %w", name, err)
	}
	out, err := e.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(e.table), Key: e.key(name, versionID), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("secret %s: get version %s: %w", name, versionID, err)
	}
	if out.Item == nil {
		return "", fmt.Errorf("secret %s: get version %s: %w", name, versionID, ErrNotFound)
	}
	kv, ct := str(out.Item[attrKEK]), bin(out.Item[attrCT])
	aead, err := e.keks.Version(ctx, kv)
	if err != nil {
		return "", fmt.Errorf("secret %s: get version %s: %w", name, versionID, err)
	}
	v, err := open(aead, name, versionID, ct)
	if err != nil {
		return "", fmt.Errorf("secret %s: get version %s: %w", name, versionID, err)
	}
	return v, nil
}

// ErrDecrypt: a ciphertext did not open under its KEK with its item's
// associated data. No value is ever returned for it.
var ErrDecrypt = errors.New("ciphertext does not decrypt for this secret and version")

func seal(aead cipher.AEAD, name, versionID, value string) []byte {
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(value)+aead.Overhead())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, []byte(value), aad(name, versionID))
}

func open(aead cipher.AEAD, name, versionID string, ct []byte) (string, error) {
	if len(ct) < aead.NonceSize()+aead.Overhead() {
		return "", ErrDecrypt
	}
	n := aead.NonceSize()
	pt, err := aead.Open(nil, ct[:n], ct[n:], aad(name, versionID))
	if err != nil {
		return "", ErrDecrypt
	}
	return string(pt), nil
}

// aad binds a ciphertext to its secret's name and version.
func aad(name, versionID string) []byte {
	return []byte(aadLabel + "\x00" + name + "\x00" + versionID)
}

// Versions returns each version of the secret with its staging labels, or
// ErrNotFound when the secret has none.
func (e *Envelope) Versions(ctx context.Context, name string) (map[string][]string, error) {
	items, err := e.versions(ctx, name)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("secret %s: %w", name, ErrNotFound)
	}
	out := make(map[string][]string, len(items))
	for _, it := range items {
		out[str(it[attrVer])] = stages(it)
	}
	return out, nil
}

func (e *Envelope) versions(ctx context.Context, name string) ([]map[string]types.AttributeValue, error) {
	if err := checkClientID(name); err != nil {
		return nil, fmt.Errorf("secret %s: %w", name, err)
	}
	var items []map[string]types.AttributeValue
	in := &dynamodb.QueryInput{
		TableName:              aws.String(e.table),
		KeyConditionExpression: aws.String("pk = :pk"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: envPKPrefix + e.prefix + name},
		},
		ConsistentRead: aws.Bool(true),
	}
	for {
		out, err := e.db.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("secret %s: list versions: %w", name, err)
		}
		items = append(items, out.Items...)
		if len(out.LastEvaluatedKey) == 0 {
			return items, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// Promote labels currentVersionID AWSCURRENT and previousVersionID (if not
// "") AWSPREVIOUS, and takes those labels off every other version, and
// AWSPENDING off the current one. A named version that does not exist is
// ErrNotFound. Concurrent Promotes leave the labels of the last one.
func (e *Envelope) Promote(ctx context.Context, name, currentVersionID, previousVersionID string) error {
	if err := checkName(name, currentVersionID); err != nil {
		return fmt.Errorf("secret %s: promote: %w", name, err)
	}
	if previousVersionID != "" {
		if err := checkVersionID(previousVersionID); err != nil {
			return fmt.Errorf("secret %s: promote: previous: %w", name, err)
		}
		if previousVersionID == currentVersionID {
			return fmt.Errorf("secret %s: promote: %w: previous version equals current", name, ErrInvalid)
		}
	}
	items, err := e.versions(ctx, name)
	if err != nil {
		return err
	}
	have := map[string][]string{}
	for _, it := range items {
		have[str(it[attrVer])] = stages(it)
	}
	for _, v := range []string{currentVersionID, previousVersionID} {
		if _, ok := have[v]; v != "" && !ok {
			return fmt.Errorf("secret %s: promote: version %s: %w", name, v, ErrNotFound)
		}
	}
	for v, st := range have {
		want := slices.DeleteFunc(slices.Clone(st), func(s string) bool { return s == StageCurrent || s == StagePrevious })
		switch v {
		case currentVersionID:
			want = []string{StageCurrent}
		case previousVersionID:
			want = append(want, StagePrevious)
		}
		if sameSet(want, st) {
			continue
		}
		if err := e.setStages(ctx, name, v, want); err != nil {
			return fmt.Errorf("secret %s: promote: %w", name, err)
		}
	}
	return nil
}

// setStages writes a version's labels, if the version still exists.
func (e *Envelope) setStages(ctx context.Context, name, versionID string, st []string) error {
	in := &dynamodb.UpdateItemInput{
		TableName:           aws.String(e.table),
		Key:                 e.key(name, versionID),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	}
	if len(st) == 0 {
		in.UpdateExpression = aws.String("REMOVE stages")
	} else {
		in.UpdateExpression = aws.String("SET stages = :s")
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":s": &types.AttributeValueMemberSS{Value: st}}
	}
	_, err := e.db.UpdateItem(ctx, in)
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return fmt.Errorf("version %s: %w", versionID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("version %s: label: %w", versionID, err)
	}
	return nil
}

// Delete destroys every version of the secret. A secret that does not exist
// is success.
func (e *Envelope) Delete(ctx context.Context, name string) error {
	items, err := e.versions(ctx, name)
	if err != nil {
		return fmt.Errorf("secret %s: delete: %w", name, err)
	}
	for _, it := range items {
		if err := e.deleteVersion(ctx, name, str(it[attrVer])); err != nil {
			return fmt.Errorf("secret %s: delete: %w", name, err)
		}
	}
	return nil
}

// Retire destroys versionID, a previous secret the key record no longer
// trusts. currentVersionID is the version the record calls current; it
// keeps AWSCURRENT. A version that is already gone is success.
func (e *Envelope) Retire(ctx context.Context, name, versionID, currentVersionID string) error {
	if err := checkName(name, versionID); err != nil {
		return fmt.Errorf("secret %s: retire: %w", name, err)
	}
	if currentVersionID == versionID {
		return fmt.Errorf("secret %s: retire: %w: the version to retire is the current one", name, ErrInvalid)
	}
	if err := e.deleteVersion(ctx, name, versionID); err != nil {
		return fmt.Errorf("secret %s: retire: %w", name, err)
	}
	return nil
}

func (e *Envelope) deleteVersion(ctx context.Context, name, versionID string) error {
	_, err := e.db.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(e.table), Key: e.key(name, versionID)})
	if err != nil {
		return fmt.Errorf("version %s: delete: %w", versionID, err)
	}
	return nil
}

func (e *Envelope) key(name, versionID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: envPKPrefix + e.prefix + name},
		attrSK: &types.AttributeValueMemberS{Value: envSKPrefix + versionID},
	}
}

// kekPartition is the gsi2 partition listing a ciphertext under kekVersion.
func kekPartition(kekVersion, fullName string) string {
	h := fnv.New32a()
	_, _ = h.Write([]byte(fullName))
	return kekPartitionShard(kekVersion, int(h.Sum32()%envShards))
}

func kekPartitionShard(kekVersion string, shard int) string {
	return "KEK#" + kekVersion + "#" + strconv.Itoa(shard)
}

func checkName(name, versionID string) error {
	if err := checkClientID(name); err != nil {
		return err
	}
	return checkVersionID(versionID)
}

func stages(it map[string]types.AttributeValue) []string {
	if ss, ok := it[attrStages].(*types.AttributeValueMemberSS); ok {
		return slices.Sorted(slices.Values(ss.Value))
	}
	return nil
}

func sameSet(a, b []string) bool {
	a, b = slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b))
	return slices.Equal(a, b)
}

func str(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func bin(v types.AttributeValue) []byte {
	if b, ok := v.(*types.AttributeValueMemberB); ok {
		return b.Value
	}
	return nil
}
