package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
)

var t0 = time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)

// testKey mints a key with every required field set; full also sets every
// optional one.
func testKey(t *testing.T, full bool) *key.Key {
	t.Helper()
	iss, err := key.New(key.NewParams{
		MerchantID:  "m_1",
		Name:        "checkout backend",
		Environment: key.EnvTest,
		Scopes:      []string{"payments:read", "payments:write"},
		AllowedIPs:  []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7"},
	}, "v-1", t0)
	if err != nil {
		t.Fatal(err)
	}
	k := iss.Key
	k.Revision = 0
	if full {
		exp := t0.Add(90 * 24 * time.Hour)
		days := 30
		k.ExpiresAt = &exp
		k.RotationDays = &days
		iss, err = k.Reset(key.DefaultBrand, time.Hour, "v-2", t0.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		k = iss.Key
		k.ExpiringNoticeFor, k.RotationNoticeVersion, k.RetiringSecretVersionID = t0, 1, "v-0"
		k.LeakedSecretVersion = 1
		k.PublicKeys = []key.PublicKey{
			{ID: key.NewPublicKeyID(k.ID), Alg: key.AlgEd25519, X: bytes.Repeat([]byte{1}, 32), CreatedAt: t0},
			{ID: key.NewPublicKeyID(k.ID), Alg: key.AlgECDSAP256, X: bytes.Repeat([]byte{2}, 32), Y: bytes.Repeat([]byte{3}, 32), CreatedAt: t0},
		}
	}
	return k
}

func TestKeyItemRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name string
		full bool
	}{{"required only", false}, {"every field", true}} {
		t.Run(tc.name, func(t *testing.T) {
			k := testKey(t, tc.full)
			item := keyItem(k, 7)
			got, err := keyFromItem(item)
			if err != nil {
				t.Fatal(err)
			}
			want := k.Clone()
			want.Revision = 7
			if !reflect.DeepEqual(got, want) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
			}
			for _, name := range keyOptionalAttrs {
				if _, ok := item[name]; ok != tc.full {
					t.Errorf("attribute %s present = %v, want %v", name, ok, tc.full)
				}
			}
			if s := item[attrGSI1SK].(*types.AttributeValueMemberS).Value; s != "2026-11-23T10:00:00.123456789Z#"+k.ID {
				t.Errorf("gsi1sk = %q", s)
			}
			if _, ok := item[kSecretHash].(*types.AttributeValueMemberB); !ok {
				t.Errorf("secret_hash is not binary")
			}
		})
	}
}

func TestKeyFromItemRejectsMalformed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(map[string]types.AttributeValue)
	}{
		{"no id", func(m map[string]types.AttributeValue) { delete(m, kID) }},
		{"pk of another key", func(m map[string]types.AttributeValue) { m[attrPK] = avS("KEY#other") }},
		{"revision not a number", func(m map[string]types.AttributeValue) { m[kRevision] = avS("1") }},
		{"bad time", func(m map[string]types.AttributeValue) { m[kCreatedAt] = avS("yesterday") }},
		{"bad CIDR", func(m map[string]types.AttributeValue) { m[kAllowedIPs] = avStrings([]string{"nope"}) }},
		{"hash as string", func(m map[string]types.AttributeValue) { m[kSecretHash] = avS("abc") }},
		{"public keys not a list", func(m map[string]types.AttributeValue) { m[kPublicKeys] = avS("pk") }},
		{"public key without x", func(m map[string]types.AttributeValue) {
			m[kPublicKeys] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberM{
				Value: map[string]types.AttributeValue{pkID: avS("pk_x"), pkAlg: avS("ed25519"), pkCreatedAt: avS("2026-11-23T10:00:00Z")}}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			item := keyItem(testKey(t, true), 1)
			tc.mutate(item)
			if _, err := keyFromItem(item); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

func TestTimeLayoutSorts(t *testing.T) {
	times := []time.Time{
		t0, t0.Add(time.Nanosecond), t0.Add(-time.Second), t0.Add(time.Hour),
		time.Date(2026, 11, 23, 10, 0, 0, 0, time.FixedZone("x", 3600)),
		time.Date(2026, 11, 23, 10, 0, 0, 100, time.UTC),
	}
	strs := make([]string, len(times))
	for i, tm := range times {
		strs[i] = fmtTime(tm)
		if len(strs[i]) != len(timeLayout) {
			t.Errorf("%v formats as %q: not fixed width", tm, strs[i])
		}
		back, ok := parseFixedTime(strs[i])
		if !ok || !back.Equal(tm) {
			t.Errorf("%q does not parse back to %v", strs[i], tm)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i].Before(times[j]) })
	sort.Strings(strs)
	for i := range times {
		if fmtTime(times[i]) != strs[i] {
			t.Errorf("string order differs from time order at %d", i)
		}
	}
}

func TestCursor(t *testing.T) {
	s := New(nil, "t", WithCursorKey([]byte("0123456789abcdef0123456789abcdef")))
	id := key.NewClientID(key.EnvTest)
	good := cursor{S: fmtTime(t0) + "#" + id, I: id}
	tok := s.encodeCursor(cursorKeys, "m_1", good)

	got, err := s.decodeCursor(cursorKeys, "m_1", tok)
	if err != nil || got != good {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	audit := cursor{S: fmtTime(t0) + "#aud_1#x", I: "aud_1#x"}
	if got, err := s.decodeCursor(cursorAudit, "m_1", s.encodeCursor(cursorAudit, "m_1", audit)); err != nil || got != audit {
		t.Fatalf("audit round trip: %+v, %v", got, err)
	}

	raw, _ := base64.RawURLEncoding.DecodeString(tok)
	flip := func(i int) string {
		b := slices.Clone(raw)
		b[i] ^= 1
		return base64.RawURLEncoding.EncodeToString(b)
	}
	// signed builds a token with a valid tag around any payload.
	signed := func(payload string) string {
		return base64.RawURLEncoding.EncodeToString(append([]byte(payload), s.cursorTag(cursorKeys, "m_1", []byte(payload))...))
	}
	other := New(nil, "t", WithCursorKey([]byte("another key, another deployment")))
	for _, tc := range []struct {
		name, kind, merchant, token string
	}{
		{"empty", cursorKeys, "m_1", ""},
		{"not base64", cursorKeys, "m_1", "!!!"},
		{"padded base64", cursorKeys, "m_1", tok + "="},
		{"short", cursorKeys, "m_1", "AAAA"},
		{"payload byte flipped", cursorKeys, "m_1", flip(3)},
		{"tag byte flipped", cursorKeys, "m_1", flip(len(raw) - 1)},
		{"truncated", cursorKeys, "m_1", tok[:len(tok)-2]},
		{"other merchant", cursorKeys, "m_2", tok},
		{"other list", cursorAudit, "m_1", tok},
		{"other key", cursorKeys, "m_1", other.encodeCursor(cursorKeys, "m_1", good)},
		{"too long", cursorKeys, "m_1", strings.Repeat("A", maxCursorLen+1)},
		{"not JSON", cursorKeys, "m_1", signed("xx")},
		{"unknown field", cursorKeys, "m_1", signed(`{"s":"` + good.S + `","i":"` + id + `","x":1}`)},
		{"trailing data", cursorKeys, "m_1", signed(`{"s":"` + good.S + `","i":"` + id + `"}{}`)},
		{"id not a client id", cursorKeys, "m_1", signed(`{"s":"` + fmtTime(t0) + `#nope","i":"nope"}`)},
		{"sort key of another id", cursorKeys, "m_1", signed(`{"s":"` + fmtTime(t0) + "#" + key.NewClientID(key.EnvTest) + `","i":"` + id + `"}`)},
		{"time not fixed width", cursorKeys, "m_1", signed(`{"s":"2026-11-23T10:00:00Z#` + id + `","i":"` + id + `"}`)},
		{"no separator", cursorKeys, "m_1", signed(`{"s":"` + fmtTime(t0) + id + `x","i":"` + id + `"}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.decodeCursor(tc.kind, tc.merchant, tc.token)
			if !errors.Is(err, key.ErrInvalid) || err.Error() != "cursor is not valid" {
				t.Fatalf("err = %v, want key.ErrInvalid \"cursor is not valid\"", err)
			}
		})
	}
}

// fakeAPI records the transaction it is given and answers with err.
type fakeAPI struct {
	API
	in  *dynamodb.TransactWriteItemsInput
	err error
}

func (f *fakeAPI) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.in = in
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.TransactWriteItemsOutput{}, nil
}

func TestUpdateKeyExpression(t *testing.T) {
	for _, full := range []bool{false, true} {
		f := &fakeAPI{}
		s := New(f, "t")
		k := testKey(t, full)
		k.Revision = 4
		if err := s.UpdateKey(context.Background(), k, outbox.Extras{}); err != nil {
			t.Fatal(err)
		}
		if k.Revision != 5 {
			t.Errorf("revision = %d, want 5", k.Revision)
		}
		u := f.in.TransactItems[0].Update
		written := map[string]string{} // attribute -> SET or REMOVE
		// The expression builder writes one clause a line: SET a = v, ... and REMOVE a, ...
		for _, clause := range strings.Split(aws.ToString(u.UpdateExpression), "\n") {
			op, list, _ := strings.Cut(strings.TrimSpace(clause), " ")
			for _, a := range strings.Split(list, ", ") {
				n, _, _ := strings.Cut(a, " = ")
				written[u.ExpressionAttributeNames[n]] = op
			}
		}
		for _, name := range []string{kLastUsedAt, kLastUsedIP, kID, kMerchantID, kCreatedAt, attrPK, attrGSI1SK} {
			if op, ok := written[name]; ok {
				t.Errorf("full=%v: update %ss %s", full, op, name)
			}
		}
		for _, name := range keyOptionalAttrs {
			want := "REMOVE"
			if full {
				want = "SET"
			}
			if written[name] != want {
				t.Errorf("full=%v: %s is %q, want %s", full, name, written[name], want)
			}
		}
		for _, name := range []string{kName, kScopes, kStatus, kSecretHash, kUpdatedAt, kRevision} {
			if written[name] != "SET" {
				t.Errorf("full=%v: %s is not SET", full, name)
			}
		}
		n, v, ok := strings.Cut(aws.ToString(u.ConditionExpression), " = ")
		if !ok || u.ExpressionAttributeNames[n] != kRevision {
			t.Fatalf("condition = %q, want revision = the revision read", aws.ToString(u.ConditionExpression))
		}
		if rev, ok := u.ExpressionAttributeValues[v].(*types.AttributeValueMemberN); !ok || rev.Value != "4" {
			t.Errorf("condition's revision = %v, want 4", u.ExpressionAttributeValues[v])
		}
	}
}

func TestCancellationMapping(t *testing.T) {
	reasons := func(codes ...string) []types.CancellationReason {
		out := make([]types.CancellationReason, len(codes))
		for i, c := range codes {
			out[i].Code = aws.String(c)
		}
		return out
	}
	full := []int{roleKey, roleEvent, roleAudit, roleIdempotency}
	for _, tc := range []struct {
		name    string
		op      string
		roles   []int
		reasons []types.CancellationReason
		want    error // nil: not mapped
	}{
		{"create: key exists", "create", full, reasons("ConditionalCheckFailed", "None", "None", "None"), key.ErrConflict},
		{"update: stale", "update", full, reasons("ConditionalCheckFailed", "None", "None", "None"), ErrStale},
		{"update: in flight", "update", full[:1], reasons("TransactionConflict"), ErrStale},
		{"idempotency taken", "create", full, reasons("None", "None", "None", "ConditionalCheckFailed"), ErrIdempotencyTaken},
		{"idempotency first", "update", full, reasons("ConditionalCheckFailed", "None", "None", "ConditionalCheckFailed"), ErrIdempotencyTaken},
		{"idempotency in flight", "create", full, reasons("None", "None", "None", "TransactionConflict"), ErrIdempotencyTaken},
		{"event exists", "create", full, reasons("None", "ConditionalCheckFailed", "None", "None"), nil},
		{"throttled", "update", full, reasons("ThrottlingError", "None", "None", "None"), nil},
		{"reasons do not match items", "update", full, reasons("ConditionalCheckFailed"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := cancellation(tc.op, "ck_1", tc.roles, tc.reasons)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("err = %v, want unmapped", err)
				}
				return
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestExtrasChecked(t *testing.T) {
	k := testKey(t, false)
	ev := outbox.Event{ID: "evt_1", Type: "key.created", MerchantID: k.MerchantID, ResourceID: k.ID, CreatedAt: t0, Data: []byte(`{}`)}
	for _, tc := range []struct {
		name string
		x    outbox.Extras
	}{
		{"event of another merchant", outbox.Extras{Events: []outbox.Event{{ID: "e", Type: "key.created", MerchantID: "m_2", Data: []byte(`{}`)}}}},
		{"event data not JSON", outbox.Extras{Events: []outbox.Event{{ID: "e", Type: "key.created", MerchantID: k.MerchantID, Data: []byte(`{`)}}}},
		{"event without id", outbox.Extras{Events: []outbox.Event{{Type: "key.created", MerchantID: k.MerchantID, Data: []byte(`{}`)}}}},
		{"audit of another merchant", outbox.Extras{Audit: &key.AuditRecord{ID: "a", MerchantID: "m_2"}}},
		{"idempotency of another merchant", outbox.Extras{Idempotency: &key.IdempotencyRecord{Key: "k", MerchantID: "m_2"}}},
		{"too many events", outbox.Extras{Events: slices.Repeat([]outbox.Event{ev}, 98)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeAPI{}
			if err := New(f, "t").CreateKey(context.Background(), k.Clone(), tc.x); err == nil {
				t.Fatal("no error")
			}
			if f.in != nil {
				t.Error("a transaction was sent")
			}
		})
	}
}

func TestEventItem(t *testing.T) {
	data, _ := json.Marshal(map[string]string{"hello": "world"})
	e := outbox.Event{ID: "evt_1", Type: "key.created", MerchantID: "m_1", ResourceID: "ck_1", CreatedAt: t0, Data: data}
	item := eventItem(&e)
	want := map[string]string{
		attrPK: "EVENT#evt_1", attrSK: "EVENT", "type": "key.created", "merchant_id": "m_1",
		"resource_id": "ck_1", "created_at": "2026-11-23T10:00:00.123456789Z", "data": string(data),
	}
	for name, v := range want {
		if got := stringAttr(item, name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if ttl := item[attrTTL].(*types.AttributeValueMemberN).Value; ttl != "1798020000" {
		t.Errorf("ttl = %s, want created + 30 days", ttl)
	}
}

func TestAllowedIPsCanonical(t *testing.T) {
	k := testKey(t, false)
	got := stringsOf(keyItem(k, 1)[kAllowedIPs])
	want := []string{"203.0.113.0/24", "2001:db8::/32", "198.51.100.7/32"}
	if !slices.Equal(got, want) {
		t.Errorf("allowed_ips = %v, want %v", got, want)
	}
}

func stringsOf(v types.AttributeValue) []string {
	var out []string
	for _, e := range v.(*types.AttributeValueMemberL).Value {
		out = append(out, e.(*types.AttributeValueMemberS).Value)
	}
	return out
}
