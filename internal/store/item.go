package store

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

// Attribute names shared by every item.
const (
	attrPK     = "pk"
	attrSK     = "sk"
	attrGSI1PK = "gsi1pk"
	attrGSI1SK = "gsi1sk"
	attrGSI2PK = "gsi2pk"
	attrGSI2SK = "gsi2sk"
	attrTTL    = "ttl"
	indexGSI1  = "gsi1"
	indexGSI2  = "gsi2"
)

// Key item attributes.
const (
	kID                  = "id"
	kMerchantID          = "merchant_id"
	kName                = "name"
	kEnvironment         = "environment"
	kCurrency            = "currency"
	kScopes              = "scopes"
	kAllowedIPs          = "allowed_ips"
	kAuthModes           = "auth_modes"
	kStatus              = "status"
	kExpiresAt           = "expires_at"
	kExpiresAtUnix       = "expires_at_unix"
	kRotationDays        = "rotation_days"
	kSecretVersion       = "secret_version"
	kSecretVersionID     = "secret_version_id"
	kSecretHash          = "secret_hash"
	kSecretHint          = "secret_hint"
	kSecretIssuedAt      = "secret_issued_at"
	kPrevSecretVersion   = "prev_secret_version"
	kPrevSecretVersionID = "prev_secret_version_id"
	kPrevSecretHash      = "prev_secret_hash"
	kPrevSecretExpiresAt = "prev_secret_expires_at"
	kCreatedAt           = "created_at"
	kUpdatedAt           = "updated_at"
	kLastUsedAt          = "last_used_at" // of the last-use item (usage.go)
	kLastUsedIP          = "last_used_ip"
	kRevision            = "revision"

	// Scheduled lifecycle bookkeeping (key.Key, due.go).
	kExpiringNoticeFor       = "expiring_notice_for"
	kRotationNoticeVersion   = "rotation_notice_version"
	kRetiringSecretVersionID = "retiring_secret_version_id"

	// The secret version a leak report last acted on (key.Key.Leak).
	kLeakedSecretVersion = "leaked_secret_version"
)

// keyOptionalAttrs are left out of a key item when empty, and removed by an
// update that empties them.
var keyOptionalAttrs = []string{
	kExpiresAt, kExpiresAtUnix, kRotationDays,
	kPrevSecretVersion, kPrevSecretVersionID, kPrevSecretHash, kPrevSecretExpiresAt,
	kExpiringNoticeFor, kRotationNoticeVersion, kRetiringSecretVersionID, kLeakedSecretVersion,
	attrGSI2PK, attrGSI2SK, // the due index entry (due.go): removed when nothing is due
	kPublicKeys,
}

// keyFixedAttrs never change after create, so an update does not write them.
var keyFixedAttrs = map[string]bool{kID: true, kMerchantID: true, kCreatedAt: true}

// Other items' attributes.
const (
	eType            = "type"
	eResourceID      = "resource_id"
	eData            = "data"
	eEndpointID      = "endpoint_id"
	aActor           = "actor"
	aRole            = "role"
	aAction          = "action"
	aResourceType    = "resource_type"
	aOutcome         = "outcome"
	aSourceIP        = "source_ip"
	aRequestID       = "request_id"
	aChanges         = "changes"
	aCount           = "count"
	iIdempotencyKey  = "idempotency_key"
	iSubject         = "subject"
	iRequestHash     = "request_hash"
	iKeyID           = "key_id"
	iSecretVersionID = "secret_version_id"
	iResponse        = "response"
	rCount           = "n"
)

// Lifetimes of the items that expire.
const (
	eventTTL = 30 * 24 * time.Hour
	// IdempotencyLifetime is how long an idempotent create is replayed.
	IdempotencyLifetime = 24 * time.Hour
)

// timeLayout is RFC 3339 with nanoseconds at a fixed width, so that times in
// UTC sort as strings.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) (time.Time, error) { return time.Parse(time.RFC3339Nano, s) }

// parseFixedTime accepts only times written by fmtTime.
func parseFixedTime(s string) (time.Time, bool) {
	t, err := time.Parse(timeLayout, s)
	return t, err == nil && fmtTime(t) == s
}

func keyPK(id string) string                { return KeyPartitionPrefix + id }
func merchantKeysPK(merchant string) string { return "MERCHANT#" + merchant + "#KEYS" }
func keySortKey(k *key.Key) string          { return fmtTime(k.CreatedAt) + "#" + k.ID }
func eventPK(id string) string              { return "EVENT#" + id }
func auditPK(merchant string) string        { return AuditPartitionPrefix + merchant }
func auditSK(r *key.AuditRecord) string     { return fmtTime(r.CreatedAt) + "#" + r.ID }
func ratePK(name string) string             { return "RATE#" + name }

const (
	keySK   = "KEY"
	eventSK = "EVENT"
	idemSK  = "IDEM"
)

// idemPK names an idempotency record of a merchant's user; the user and the
// header's value are hashed (length-prefixed, so no two pairs collide) so that
// any value of up to 255 characters makes a key of bounded size.
func idemPK(merchant, subject, idemKey string) string {
	h := sha256.New()
	h.Write([]byte(strconv.Itoa(len(subject)) + ":" + subject + idemKey))
	return "IDEM#" + merchant + "#" + hex.EncodeToString(h.Sum(nil))
}

func avS(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func avB(b []byte) types.AttributeValue { return &types.AttributeValueMemberB{Value: b} }
func avN(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}
func avTime(t time.Time) types.AttributeValue { return avS(fmtTime(t)) }

func avStrings(ss []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(ss))
	for i, s := range ss {
		l[i] = avS(s)
	}
	return &types.AttributeValueMemberL{Value: l}
}

// itemKey is the primary key of an item.
func itemKey(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: avS(pk), attrSK: avS(sk)}
}

// keyAttrs returns a key's attributes, without the primary and gsi1 keys,
// the revision and the last-use attributes, but with its entry in the due
// index (gsi2, see due.go), so that every write keeps it in step with the
// record. Optional attributes that are empty are left out.
func keyAttrs(k *key.Key) map[string]types.AttributeValue {
	modes := make([]string, len(k.AuthModes))
	for i, m := range k.AuthModes {
		modes[i] = string(m)
	}
	m := map[string]types.AttributeValue{
		kID:              avS(k.ID),
		kMerchantID:      avS(k.MerchantID),
		kName:            avS(k.Name),
		kEnvironment:     avS(string(k.Environment)),
		kCurrency:        avS(string(k.Currency)),
		kScopes:          avStrings(k.Scopes),
		kAllowedIPs:      avStrings(key.PrefixStrings(k.AllowedIPs)),
		kAuthModes:       avStrings(modes),
		kStatus:          avS(string(k.Status)),
		kSecretVersion:   avN(int64(k.SecretVersion)),
		kSecretVersionID: avS(k.SecretVersionID),
		kSecretHash:      avB(k.SecretHash),
		kSecretHint:      avS(k.SecretHint),
		kSecretIssuedAt:  avTime(k.SecretIssuedAt),
		kCreatedAt:       avTime(k.CreatedAt),
		kUpdatedAt:       avTime(k.UpdatedAt),
	}
	if k.ExpiresAt != nil {
		m[kExpiresAt] = avTime(*k.ExpiresAt)
		m[kExpiresAtUnix] = avN(k.ExpiresAt.Unix())
	}
	if k.RotationDays != nil {
		m[kRotationDays] = avN(int64(*k.RotationDays))
	}
	if k.PrevSecretVersion != 0 {
		m[kPrevSecretVersion] = avN(int64(k.PrevSecretVersion))
	}
	if k.PrevSecretVersionID != "" {
		m[kPrevSecretVersionID] = avS(k.PrevSecretVersionID)
	}
	if len(k.PrevSecretHash) > 0 {
		m[kPrevSecretHash] = avB(k.PrevSecretHash)
	}
	if k.PrevSecretExpiresAt != nil {
		m[kPrevSecretExpiresAt] = avTime(*k.PrevSecretExpiresAt)
	}
	if !k.ExpiringNoticeFor.IsZero() {
		m[kExpiringNoticeFor] = avTime(k.ExpiringNoticeFor)
	}
	if k.RotationNoticeVersion != 0 {
		m[kRotationNoticeVersion] = avN(int64(k.RotationNoticeVersion))
	}
	putS(m, kRetiringSecretVersionID, k.RetiringSecretVersionID)
	if k.LeakedSecretVersion != 0 {
		m[kLeakedSecretVersion] = avN(int64(k.LeakedSecretVersion))
	}
	if pks := avPublicKeys(k.PublicKeys); pks != nil {
		m[kPublicKeys] = pks
	}
	putDueEntry(m, k)
	return m
}

// keyItem is the whole item of a new key at revision rev.
func keyItem(k *key.Key, rev int64) map[string]types.AttributeValue {
	m := keyAttrs(k)
	m[attrPK] = avS(keyPK(k.ID))
	m[attrSK] = avS(keySK)
	m[attrGSI1PK] = avS(merchantKeysPK(k.MerchantID))
	m[attrGSI1SK] = avS(keySortKey(k))
	m[kRevision] = avN(rev)
	return m
}

// decoder reads typed attributes from an item and remembers the first
// problem, so that a whole item is decoded before checking once.
type decoder struct {
	item map[string]types.AttributeValue
	err  error
}

func (d *decoder) fail(name, want string) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %s: want %s", name, want)
	}
}

// s reads a string attribute; a missing one is "" unless required.
func (d *decoder) s(name string, required bool) string {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberS:
		return v.Value
	case nil:
		if required {
			d.fail(name, "a string")
		}
		return ""
	}
	d.fail(name, "a string")
	return ""
}

func (d *decoder) b(name string, required bool) []byte {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberB:
		return v.Value
	case nil:
		if required {
			d.fail(name, "binary")
		}
		return nil
	}
	d.fail(name, "binary")
	return nil
}

// n reads a number attribute; ok is false when it is missing.
func (d *decoder) n(name string, required bool) (n int64, ok bool) {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberN:
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err != nil {
			d.fail(name, "an integer")
			return 0, false
		}
		return n, true
	case nil:
		if required {
			d.fail(name, "a number")
		}
		return 0, false
	}
	d.fail(name, "a number")
	return 0, false
}

func (d *decoder) int(name string, required bool) int {
	n, _ := d.n(name, required)
	return int(n)
}

func (d *decoder) intPtr(name string) *int {
	n, ok := d.n(name, false)
	if !ok {
		return nil
	}
	i := int(n)
	return &i
}

func (d *decoder) time(name string, required bool) time.Time {
	s := d.s(name, required)
	if s == "" {
		if required {
			d.fail(name, "a time")
		}
		return time.Time{}
	}
	t, err := parseTime(s)
	if err != nil {
		d.fail(name, "an RFC 3339 time")
	}
	return t
}

func (d *decoder) timePtr(name string) *time.Time {
	if _, ok := d.item[name]; !ok {
		return nil
	}
	t := d.time(name, true)
	return &t
}

// strings reads a list of strings; a missing list is nil, an empty one is empty.
func (d *decoder) strings(name string) []string {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberL:
		out := make([]string, 0, len(v.Value))
		for _, e := range v.Value {
			s, ok := e.(*types.AttributeValueMemberS)
			if !ok {
				d.fail(name, "a list of strings")
				return nil
			}
			out = append(out, s.Value)
		}
		return out
	case nil:
		return nil
	}
	d.fail(name, "a list of strings")
	return nil
}

func (d *decoder) int64s(name string) []int64 {
	switch v := d.item[name].(type) {
	case *types.AttributeValueMemberL:
		out := make([]int64, 0, len(v.Value))
		for _, e := range v.Value {
			n, ok := e.(*types.AttributeValueMemberN)
			if !ok {
				d.fail(name, "a list of numbers")
				return nil
			}
			i, err := strconv.ParseInt(n.Value, 10, 64)
			if err != nil {
				d.fail(name, "a list of integers")
				return nil
			}
			out = append(out, i)
		}
		return out
	case nil:
		return nil
	}
	d.fail(name, "a list of numbers")
	return nil
}

// keyFromItem decodes a key item.
func keyFromItem(item map[string]types.AttributeValue) (*key.Key, error) {
	d := &decoder{item: item}
	k := &key.Key{
		ID:                  d.s(kID, true),
		MerchantID:          d.s(kMerchantID, true),
		Name:                d.s(kName, false),
		Environment:         key.Environment(d.s(kEnvironment, true)),
		Currency:            key.Currency(d.s(kCurrency, false)),
		Scopes:              d.strings(kScopes),
		Status:              key.Status(d.s(kStatus, true)),
		ExpiresAt:           d.timePtr(kExpiresAt),
		RotationDays:        d.intPtr(kRotationDays),
		SecretVersion:       d.int(kSecretVersion, true),
		SecretVersionID:     d.s(kSecretVersionID, false),
		SecretHash:          d.b(kSecretHash, true),
		SecretHint:          d.s(kSecretHint, false),
		SecretIssuedAt:      d.time(kSecretIssuedAt, false),
		PrevSecretVersion:   d.int(kPrevSecretVersion, false),
		PrevSecretVersionID: d.s(kPrevSecretVersionID, false),
		PrevSecretHash:      d.b(kPrevSecretHash, false),
		PrevSecretExpiresAt: d.timePtr(kPrevSecretExpiresAt),
		CreatedAt:           d.time(kCreatedAt, true),
		UpdatedAt:           d.time(kUpdatedAt, false),
	}
	k.Revision, _ = d.n(kRevision, true)
	k.ExpiringNoticeFor = d.time(kExpiringNoticeFor, false)
	k.RotationNoticeVersion = d.int(kRotationNoticeVersion, false)
	k.RetiringSecretVersionID = d.s(kRetiringSecretVersionID, false)
	k.LeakedSecretVersion = d.int(kLeakedSecretVersion, false)
	k.PublicKeys = d.publicKeys(kPublicKeys)
	if pk := d.s(attrPK, true); d.err == nil && pk != keyPK(k.ID) {
		d.err = fmt.Errorf("attribute %s: %q does not match id", attrPK, pk)
	}
	if ips := d.strings(kAllowedIPs); ips != nil {
		k.AllowedIPs = make([]netip.Prefix, 0, len(ips))
		for _, s := range ips {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				d.fail(kAllowedIPs, "a list of CIDRs")
				break
			}
			k.AllowedIPs = append(k.AllowedIPs, p)
		}
	}
	if modes := d.strings(kAuthModes); modes != nil {
		k.AuthModes = make([]key.AuthMode, len(modes))
		for i, m := range modes {
			k.AuthModes[i] = key.AuthMode(m)
		}
	}
	if d.err != nil {
		return nil, fmt.Errorf("malformed key item: %w", d.err)
	}
	return k, nil
}

// eventItem is an outbox event, in the due index until it is fanned out.
func eventItem(e *outbox.Event) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		attrPK:      avS(eventPK(e.ID)),
		attrSK:      avS(eventSK),
		attrGSI2PK:  avS(dueOutbox),
		attrGSI2SK:  avS(fmtTime(e.CreatedAt) + "#" + e.ID),
		kID:         avS(e.ID),
		eType:       avS(e.Type),
		kMerchantID: avS(e.MerchantID),
		eResourceID: avS(e.ResourceID),
		kCreatedAt:  avTime(e.CreatedAt),
		eData:       avS(string(e.Data)),
		attrTTL:     avN(e.CreatedAt.Add(eventTTL).Unix()),
	}
	putS(m, eEndpointID, e.EndpointID)
	return m
}

func eventFromItem(item map[string]types.AttributeValue) (outbox.Event, error) {
	d := &decoder{item: item}
	e := outbox.Event{
		ID:         d.s(kID, true),
		Type:       d.s(eType, true),
		MerchantID: d.s(kMerchantID, true),
		ResourceID: d.s(eResourceID, false),
		EndpointID: d.s(eEndpointID, false),
		CreatedAt:  d.time(kCreatedAt, true),
		Data:       []byte(d.s(eData, true)),
	}
	if d.err != nil {
		return outbox.Event{}, fmt.Errorf("malformed event item: %w", d.err)
	}
	return e, nil
}

// putS adds a string attribute unless it is empty.
func putS(m map[string]types.AttributeValue, name, v string) {
	if v != "" {
		m[name] = avS(v)
	}
}

// putB adds a binary attribute unless it is empty.
func putB(m map[string]types.AttributeValue, name string, v []byte) {
	if len(v) > 0 {
		m[name] = avB(v)
	}
}

func auditItem(r *key.AuditRecord) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		attrPK:      avS(auditPK(r.MerchantID)),
		attrSK:      avS(auditSK(r)),
		kID:         avS(r.ID),
		kMerchantID: avS(r.MerchantID),
		kCreatedAt:  avTime(r.CreatedAt),
	}
	putS(m, aActor, r.Actor)
	putS(m, aRole, r.Role)
	putS(m, aAction, r.Action)
	putS(m, aResourceType, r.ResourceType)
	putS(m, eResourceID, r.ResourceID)
	putS(m, aOutcome, r.Outcome)
	putS(m, aSourceIP, r.SourceIP)
	putS(m, aRequestID, r.RequestID)
	if len(r.Changes) > 0 {
		m[aChanges] = avStrings(r.Changes)
	}
	if r.Count > 1 {
		m[aCount] = avN(int64(r.Count))
	}
	return m
}

func auditFromItem(item map[string]types.AttributeValue) (key.AuditRecord, error) {
	d := &decoder{item: item}
	r := key.AuditRecord{
		ID:           d.s(kID, true),
		MerchantID:   d.s(kMerchantID, true),
		Actor:        d.s(aActor, false),
		Role:         d.s(aRole, false),
		Action:       d.s(aAction, false),
		ResourceType: d.s(aResourceType, false),
		ResourceID:   d.s(eResourceID, false),
		Outcome:      d.s(aOutcome, false),
		SourceIP:     d.s(aSourceIP, false),
		RequestID:    d.s(aRequestID, false),
		CreatedAt:    d.time(kCreatedAt, true),
		Changes:      d.strings(aChanges),
		Count:        1,
	}
	if n, ok := d.n(aCount, false); ok && n > 1 {
		r.Count = int(n)
	}
	if d.err != nil {
		return key.AuditRecord{}, fmt.Errorf("malformed audit item: %w", d.err)
	}
	return r, nil
}

func idempotencyItem(r *key.IdempotencyRecord) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{
		attrPK:          avS(idemPK(r.MerchantID, r.Subject, r.Key)),
		attrSK:          avS(idemSK),
		kMerchantID:     avS(r.MerchantID),
		iIdempotencyKey: avS(r.Key),
		kCreatedAt:      avTime(r.CreatedAt),
		attrTTL:         avN(r.CreatedAt.Add(IdempotencyLifetime).Unix()),
	}
	putS(m, iSubject, r.Subject)
	putB(m, iRequestHash, r.RequestHash)
	putS(m, iKeyID, r.KeyID)
	putS(m, iSecretVersionID, r.SecretVersionID)
	putB(m, iResponse, r.Response)
	return m
}

func idempotencyFromItem(item map[string]types.AttributeValue) (*key.IdempotencyRecord, int64, error) {
	d := &decoder{item: item}
	r := &key.IdempotencyRecord{
		MerchantID:      d.s(kMerchantID, true),
		Subject:         d.s(iSubject, false),
		Key:             d.s(iIdempotencyKey, true),
		RequestHash:     d.b(iRequestHash, false),
		KeyID:           d.s(iKeyID, false),
		SecretVersionID: d.s(iSecretVersionID, false),
		Response:        d.b(iResponse, false),
		CreatedAt:       d.time(kCreatedAt, true),
	}
	ttl, _ := d.n(attrTTL, true)
	if d.err != nil {
		return nil, 0, fmt.Errorf("malformed idempotency item: %w", d.err)
	}
	return r, ttl, nil
}
