//go:build integration

package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/testenv"
)

// testTable creates a table of its own for the test and drops it afterwards.
func testTable(t testing.TB) (*dynamodb.Client, string) {
	t.Helper()
	db := testenv.Dynamo(t)
	table := testenv.UniqueName(t, "store-")
	ctx := testenv.Context(t)
	if err := CreateTable(ctx, db, table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := db.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
			t.Logf("delete table %s: %v", table, err)
		}
	})
	return db, table
}

func testStore(t testing.TB) *Store {
	t.Helper()
	db, table := testTable(t)
	return New(db, table, WithCursorKey([]byte("integration-test-cursor-key-32by")))
}

var seq struct {
	sync.Mutex
	n int
}

func nextID(prefix string) string {
	seq.Lock()
	defer seq.Unlock()
	seq.n++
	return prefix + strconv.Itoa(seq.n)
}

// newKey mints a key of merchant created at created.
func newKey(t testing.TB, merchant string, env key.Environment, created time.Time) *key.Key {
	t.Helper()
	iss, err := key.New(key.NewParams{
		MerchantID: merchant, Name: "key " + created.Format(time.RFC3339Nano), Environment: env,
		Scopes: []string{"payments:read"}, AllowedIPs: []string{"203.0.113.0/24"},
	}, "v-1", created)
	if err != nil {
		t.Fatal(err)
	}
	return iss.Key
}

// extras builds an event and an audit record for k.
func extras(k *key.Key, typ string, at time.Time) outbox.Extras {
	return outbox.Extras{
		Events: []outbox.Event{{ID: nextID("evt_"), Type: typ, MerchantID: k.MerchantID, ResourceID: k.ID, CreatedAt: at,
			Data: []byte(fmt.Sprintf(`{"key":{"id":%q}}`, k.ID))}},
		Audit: &key.AuditRecord{ID: nextID("aud_"), MerchantID: k.MerchantID, Actor: "user_1", Role: "admin",
			Action: typ, ResourceType: "key", ResourceID: k.ID, Outcome: "success", SourceIP: "203.0.113.9",
			RequestID: "req_1", CreatedAt: at},
	}
}

func eventExists(t testing.TB, s *Store, id string) bool {
	t.Helper()
	out, err := s.api.GetItem(testenv.Context(t), &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(eventPK(id), eventSK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(out.Item) > 0
}

func auditIDs(t testing.TB, s *Store, merchant string) []string {
	t.Helper()
	recs, _, err := s.ListAudit(testenv.Context(t), merchant, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range recs {
		ids = append(ids, r.ID)
	}
	return ids
}

// sameKey compares keys as stored: times in UTC.
func sameKey(t testing.TB, got, want *key.Key) {
	t.Helper()
	w := want.Clone()
	norm := func(tm *time.Time) { *tm = tm.UTC() }
	normPtr := func(tm *time.Time) {
		if tm != nil {
			norm(tm)
		}
	}
	norm(&w.CreatedAt)
	norm(&w.UpdatedAt)
	norm(&w.SecretIssuedAt)
	normPtr(w.ExpiresAt)
	normPtr(w.PrevSecretExpiresAt)
	normPtr(w.LastUsedAt)
	if !reflect.DeepEqual(got, w) {
		t.Errorf("key differs:\n got %s\nwant %s", dump(got), dump(w))
	}
}

// dump shows a key with its pointers followed.
func dump(k *key.Key) string {
	b, _ := json.Marshal(k)
	return string(b)
}

func TestCreateTableIsIdempotent(t *testing.T) {
	db, table := testTable(t)
	if err := CreateTable(testenv.Context(t), db, table); err != nil {
		t.Fatalf("second CreateTable: %v", err)
	}
	ttl, err := db.DescribeTimeToLive(testenv.Context(t), &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if d := ttl.TimeToLiveDescription; d == nil || aws.ToString(d.AttributeName) != "ttl" || d.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL = %+v", d)
	}
	out, err := db.DescribeTable(testenv.Context(t), &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if ss := out.Table.StreamSpecification; ss == nil || !aws.ToBool(ss.StreamEnabled) || ss.StreamViewType != types.StreamViewTypeNewAndOldImages {
		t.Errorf("stream = %+v", ss)
	}
}

func TestCreateGetRoundTrip(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Now()
	for _, full := range []bool{false, true} {
		k := newKey(t, "m_1", key.EnvLive, now)
		if full {
			exp, days := now.Add(48*time.Hour), 90
			k.ExpiresAt, k.RotationDays = &exp, &days
			iss, err := k.Reset(key.DefaultBrand, time.Hour, "v-2", now)
			if err != nil {
				t.Fatal(err)
			}
			k = iss.Key
		}
		x := extras(k, "key.created", now)
		x.Idempotency = &key.IdempotencyRecord{MerchantID: "m_1", Subject: "user_1", Key: nextID("idem-"), RequestHash: []byte{1, 2, 3},
			KeyID: k.ID, SecretVersionID: k.SecretVersionID, Response: []byte(`{"key":{}}`), CreatedAt: now}
		if err := s.CreateKey(ctx, k, x); err != nil {
			t.Fatal(err)
		}
		if k.Revision != 1 {
			t.Errorf("revision after create = %d", k.Revision)
		}
		got, err := s.GetKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameKey(t, got, k)
		if !eventExists(t, s, x.Events[0].ID) {
			t.Error("event not written")
		}
		idem, err := s.GetIdempotency(ctx, "m_1", "user_1", x.Idempotency.Key)
		if err != nil {
			t.Fatal(err)
		}
		if idem.KeyID != k.ID || string(idem.Response) != `{"key":{}}` || string(idem.RequestHash) != "\x01\x02\x03" ||
			idem.SecretVersionID != k.SecretVersionID || !idem.CreatedAt.Equal(now) {
			t.Errorf("idempotency record = %+v", idem)
		}
	}
	recs, _, err := s.ListAudit(ctx, "m_1", 10, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Actor != "user_1" || recs[0].SourceIP != "203.0.113.9" || !recs[0].CreatedAt.Equal(now) {
		t.Errorf("audit = %+v", recs)
	}
}

func TestCreateTwiceConflicts(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	again := k.Clone()
	again.Name = "impostor"
	x := extras(again, "key.created", time.Now())
	err := s.CreateKey(ctx, again, x)
	if !errors.Is(err, key.ErrConflict) {
		t.Fatalf("second create: %v, want key.ErrConflict", err)
	}
	if got, _ := s.GetKey(ctx, k.ID); got.Name != k.Name {
		t.Errorf("name = %q: the second create overwrote the key", got.Name)
	}
	if eventExists(t, s, x.Events[0].ID) || len(auditIDs(t, s, "m_1")) != 0 {
		t.Error("the failed create wrote its extras")
	}
}

func TestGetUnknownKey(t *testing.T) {
	s := testStore(t)
	id := key.NewClientID(key.EnvTest)
	_, err := s.GetKey(testenv.Context(t), id)
	if !errors.Is(err, key.ErrNotFound) {
		t.Fatalf("err = %v, want key.ErrNotFound", err)
	}
	var pe *key.PublicError
	if !errors.As(err, &pe) || pe.Msg != "key "+id+" not found" {
		t.Errorf("err = %v", err)
	}
}

func TestConcurrentUpdatesOneWins(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	read, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	xs := make([]outbox.Extras, n)
	for i := range n {
		u := read.Clone()
		u.Name = "writer " + strconv.Itoa(i)
		xs[i] = extras(u, "key.updated", time.Now())
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.UpdateKey(ctx, u, xs[i])
		}()
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("writers %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, ErrStale):
			t.Fatalf("writer %d: %v, want ErrStale", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no writer won")
	}
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "writer "+strconv.Itoa(winner) || got.Revision != 2 {
		t.Errorf("key = %q at revision %d, want writer %d at 2", got.Name, got.Revision, winner)
	}
	audit := auditIDs(t, s, "m_1")
	if len(audit) != 1 || audit[0] != xs[winner].Audit.ID {
		t.Errorf("audit records %v, want only the winner's %s", audit, xs[winner].Audit.ID)
	}
	for i, x := range xs {
		if eventExists(t, s, x.Events[0].ID) != (i == winner) {
			t.Errorf("writer %d's event written = %v", i, i != winner)
		}
	}

	// A later update from the same old read is stale too.
	old := read.Clone()
	old.Name = "late"
	if err := s.UpdateKey(ctx, old, outbox.Extras{}); !errors.Is(err, ErrStale) {
		t.Errorf("late update: %v, want ErrStale", err)
	}
	if old.Revision != read.Revision {
		t.Errorf("a failed update changed the revision to %d", old.Revision)
	}
}

func TestUpdateKey(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Now()
	k := newKey(t, "m_1", key.EnvTest, now)
	exp, days := now.Add(48*time.Hour), 30
	k.ExpiresAt, k.RotationDays = &exp, &days
	iss, err := k.Reset(key.DefaultBrand, time.Hour, "v-2", now)
	if err != nil {
		t.Fatal(err)
	}
	k = iss.Key
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	// Another code path records a use, without a revision bump.
	used := now.Add(time.Second).UTC()
	if wrote, err := s.SetLastUsed(ctx, k.ID, used, "198.51.100.1"); err != nil || !wrote {
		t.Fatalf("set last use: %v, %v", wrote, err)
	}

	u := k.Clone() // read before the use was recorded
	u.Name, u.Status = "renamed", key.StatusDisabled
	u.ExpiresAt, u.RotationDays = nil, nil
	u.PrevSecretHash, u.PrevSecretVersion, u.PrevSecretVersionID, u.PrevSecretExpiresAt = nil, 0, "", nil
	if err := s.UpdateKey(ctx, u, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	if u.Revision != 2 {
		t.Errorf("revision = %d, want 2", u.Revision)
	}
	got := getUsedKey(t, s, k.ID)
	want := u.Clone()
	want.LastUsedAt, want.LastUsedIP = &used, "198.51.100.1"
	sameKey(t, got, want)

	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.table), Key: itemKey(keyPK(k.ID), keySK)})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range keyOptionalAttrs {
		if _, ok := out.Item[name]; ok {
			t.Errorf("attribute %s left behind", name)
		}
	}

	missing := newKey(t, "m_1", key.EnvTest, now)
	missing.Revision = 1
	if err := s.UpdateKey(ctx, missing, outbox.Extras{}); !errors.Is(err, ErrStale) {
		t.Errorf("update of a missing key: %v, want ErrStale", err)
	}
}

func TestIdempotency(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Now()
	idem := func(k *key.Key, at time.Time) *key.IdempotencyRecord {
		return &key.IdempotencyRecord{MerchantID: "m_1", Subject: "user_1", Key: "retry-me", RequestHash: []byte("h"), KeyID: k.ID, CreatedAt: at}
	}
	first := newKey(t, "m_1", key.EnvTest, now)
	x1 := extras(first, "key.created", now)
	x1.Idempotency = idem(first, now)
	if err := s.CreateKey(ctx, first, x1); err != nil {
		t.Fatal(err)
	}

	second := newKey(t, "m_1", key.EnvTest, now)
	x2 := extras(second, "key.created", now)
	x2.Idempotency = idem(second, now)
	if err := s.CreateKey(ctx, second, x2); !errors.Is(err, ErrIdempotencyTaken) {
		t.Fatalf("second create: %v, want ErrIdempotencyTaken", err)
	}
	if _, err := s.GetKey(ctx, second.ID); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("second key: %v, want not found", err)
	}
	if eventExists(t, s, x2.Events[0].ID) {
		t.Error("second create wrote its event")
	}
	if a := auditIDs(t, s, "m_1"); len(a) != 1 || a[0] != x1.Audit.ID {
		t.Errorf("audit = %v, want only %s", a, x1.Audit.ID)
	}
	if r, err := s.GetIdempotency(ctx, "m_1", "user_1", "retry-me"); err != nil || r.KeyID != first.ID {
		t.Errorf("record = %+v, %v; want the first key's", r, err)
	}

	// The same header value is another merchant's own.
	if _, err := s.GetIdempotency(ctx, "m_2", "user_1", "retry-me"); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("other merchant: %v, want not found", err)
	}
	// So is another user's of the same merchant: a record is scoped to both.
	if _, err := s.GetIdempotency(ctx, "m_1", "user_2", "retry-me"); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("other user: %v, want not found", err)
	}
	other := newKey(t, "m_1", key.EnvTest, now)
	xu := outbox.Extras{Idempotency: idem(other, now)}
	xu.Idempotency.Subject = "user_2"
	if err := s.CreateKey(ctx, other, xu); err != nil {
		t.Fatalf("another user's create with the same key.IdempotencyRecord-Key: %v", err)
	}
	if r, err := s.GetIdempotency(ctx, "m_1", "user_2", "retry-me"); err != nil || r.KeyID != other.ID {
		t.Errorf("other user's record = %+v, %v; want its own key's", r, err)
	}

	// A record older than 24 h no longer counts, and may be replaced.
	old := newKey(t, "m_1", key.EnvTest, now)
	xo := outbox.Extras{Idempotency: idem(old, now.Add(-25*time.Hour))}
	xo.Idempotency.Key = "old"
	if err := s.CreateKey(ctx, old, xo); err != nil {
		t.Fatal(err)
	}
	if _, err := s.GetIdempotency(ctx, "m_1", "user_1", "old"); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("expired record: %v, want not found", err)
	}
	fresh := newKey(t, "m_1", key.EnvTest, now)
	xf := outbox.Extras{Idempotency: idem(fresh, now)}
	xf.Idempotency.Key = "old"
	if err := s.CreateKey(ctx, fresh, xf); err != nil {
		t.Fatalf("create over an expired record: %v", err)
	}
	if r, err := s.GetIdempotency(ctx, "m_1", "user_1", "old"); err != nil || r.KeyID != fresh.ID {
		t.Errorf("record = %+v, %v; want the fresh key's", r, err)
	}
}

func ids(keys []*key.Key) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k.ID
	}
	return out
}

func TestListKeysPages(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	base := time.Now().Add(-time.Hour)
	var want []string // newest first
	for i := range 8 {
		k := newKey(t, "m_a", key.EnvTest, base.Add(time.Duration(i)*time.Millisecond))
		if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
			t.Fatal(err)
		}
		want = append([]string{k.ID}, want...)
	}
	var got []string
	cur := ""
	pages := 0
	for {
		keys, next, err := s.ListKeys(ctx, "m_a", key.ListFilter{Limit: 3, Cursor: cur})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, ids(keys)...)
		if next == "" {
			break
		}
		if len(keys) != 3 {
			t.Errorf("page %d has %d keys and a next cursor", pages, len(keys))
		}
		cur = next
	}
	if pages != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%d pages: %v\nwant 3 pages: %v", pages, got, want)
	}

	// A page that ends exactly at the last key has no next cursor.
	keys, next, err := s.ListKeys(ctx, "m_a", key.ListFilter{Limit: 8})
	if err != nil || len(keys) != 8 || next != "" {
		t.Errorf("limit 8: %d keys, next %q, %v", len(keys), next, err)
	}
	if _, _, err := s.ListKeys(ctx, "m_a", key.ListFilter{Limit: 101}); !errors.Is(err, key.ErrInvalid) {
		t.Errorf("limit 101: %v, want key.ErrInvalid", err)
	}
}

func TestListKeysFilters(t *testing.T) {
	s := testStore(t)
	s.pageSize = 1 // short pages, so filtered lists take several queries
	ctx := testenv.Context(t)
	now := time.Now().Truncate(time.Second).Add(500 * time.Millisecond)
	created := now.Add(-time.Hour)
	byName := map[string]string{}
	add := func(name string, env key.Environment, st key.Status, exp *time.Time) {
		created = created.Add(time.Millisecond)
		k := newKey(t, "m_f", env, created)
		k.Status, k.ExpiresAt, k.Name = st, exp, name
		if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
			t.Fatal(err)
		}
		byName[k.ID] = name
	}
	at := func(d time.Duration) *time.Time { t := now.Add(d); return &t }
	add("active", key.EnvTest, key.StatusActive, nil)
	add("active-later", key.EnvTest, key.StatusActive, at(time.Hour))
	add("active-in-300ms", key.EnvTest, key.StatusActive, at(300*time.Millisecond)) // same unix second as now... or the next
	add("active-past", key.EnvTest, key.StatusActive, at(-time.Hour))
	add("active-300ms-ago", key.EnvTest, key.StatusActive, at(-300*time.Millisecond))
	add("active-now", key.EnvTest, key.StatusActive, at(0))
	add("disabled", key.EnvTest, key.StatusDisabled, nil)
	add("disabled-past", key.EnvTest, key.StatusDisabled, at(-time.Minute))
	add("expired", key.EnvTest, key.StatusExpired, at(-time.Hour))
	add("revoked", key.EnvTest, key.StatusRevoked, nil)
	add("revoked-past", key.EnvTest, key.StatusRevoked, at(-time.Hour))
	add("live-active", key.EnvLive, key.StatusActive, nil)
	add("live-disabled", key.EnvLive, key.StatusDisabled, nil)

	for _, tc := range []struct {
		env  key.Environment
		st   key.Status
		want []string // newest first
	}{
		{"", key.StatusActive, []string{"live-active", "active-in-300ms", "active-later", "active"}},
		{key.EnvTest, key.StatusActive, []string{"active-in-300ms", "active-later", "active"}},
		{key.EnvTest, key.StatusExpired, []string{"expired", "disabled-past", "active-now", "active-300ms-ago", "active-past"}},
		{"", key.StatusDisabled, []string{"live-disabled", "disabled"}},
		{"", key.StatusRevoked, []string{"revoked-past", "revoked"}},
		{key.EnvLive, "", []string{"live-disabled", "live-active"}},
		{key.EnvLive, key.StatusRevoked, nil},
	} {
		t.Run(string(tc.env)+"/"+string(tc.st), func(t *testing.T) {
			for _, limit := range []int{1, 2, 100} {
				var got []string
				cur := ""
				for {
					keys, next, err := s.ListKeys(ctx, "m_f", key.ListFilter{Environment: tc.env, Status: tc.st, Limit: limit, Cursor: cur, Now: now})
					if err != nil {
						t.Fatal(err)
					}
					if len(keys) > limit {
						t.Fatalf("limit %d: page of %d", limit, len(keys))
					}
					for _, k := range keys {
						got = append(got, byName[k.ID])
					}
					if next == "" {
						break
					}
					cur = next
				}
				if fmt.Sprint(got) != fmt.Sprint(tc.want) {
					t.Errorf("limit %d: %v\nwant %v", limit, got, tc.want)
				}
			}
		})
	}
	if _, _, err := s.ListKeys(ctx, "m_f", key.ListFilter{Status: "gone"}); !errors.Is(err, key.ErrInvalid) {
		t.Errorf("unknown status: %v, want key.ErrInvalid", err)
	}
}

func TestListKeysTenantIsolation(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	base := time.Now().Add(-time.Hour)
	mine := map[string]string{}
	for i := range 6 {
		merchant := "m_a"
		if i%2 == 1 {
			merchant = "m_b"
		}
		k := newKey(t, merchant, key.EnvTest, base.Add(time.Duration(i)*time.Millisecond))
		if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
			t.Fatal(err)
		}
		mine[k.ID] = merchant
	}
	check := func(keys []*key.Key, merchant string) {
		t.Helper()
		for _, k := range keys {
			if mine[k.ID] != merchant {
				t.Errorf("%s sees %s's key %s", merchant, mine[k.ID], k.ID)
			}
		}
	}
	if keys, _, err := s.ListKeys(ctx, "m_c", key.ListFilter{}); err != nil || len(keys) != 0 {
		t.Errorf("m_c: %d keys, %v", len(keys), err)
	}
	aPage, aNext, err := s.ListKeys(ctx, "m_a", key.ListFilter{Limit: 1})
	if err != nil || aNext == "" {
		t.Fatalf("m_a: %v, next %q", err, aNext)
	}
	check(aPage, "m_a")

	// A's cursor is not B's.
	if keys, _, err := s.ListKeys(ctx, "m_b", key.ListFilter{Cursor: aNext}); !errors.Is(err, key.ErrInvalid) || len(keys) != 0 {
		t.Errorf("m_b with m_a's cursor: %d keys, %v; want key.ErrInvalid", len(keys), err)
	}
	// Even a cursor signed for B around A's position stays in B's partition.
	forged := s.encodeCursor(cursorKeys, "m_b", cursor{S: keySortKey(aPage[0]), I: aPage[0].ID})
	keys, _, err := s.ListKeys(ctx, "m_b", key.ListFilter{Cursor: forged})
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) == 0 {
		t.Error("m_b got nothing from a position in its own partition")
	}
	check(keys, "m_b")
	all, _, err := s.ListKeys(ctx, "m_b", key.ListFilter{})
	if err != nil || len(all) != 3 {
		t.Fatalf("m_b: %d keys, %v", len(all), err)
	}
	check(all, "m_b")
}

func TestListBadCursor(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	for _, c := range []string{"x", "eyJzIjoiIiwiaSI6IiJ9", "not a cursor at all!"} {
		if _, _, err := s.ListKeys(ctx, "m_a", key.ListFilter{Cursor: c}); !errors.Is(err, key.ErrInvalid) || err.Error() != "cursor is not valid" {
			t.Errorf("ListKeys(%q): %v", c, err)
		}
		if _, _, err := s.ListAudit(ctx, "m_a", 10, c); !errors.Is(err, key.ErrInvalid) {
			t.Errorf("ListAudit(%q): %v", c, err)
		}
	}
}

func TestListAuditPages(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	base := time.Now()
	var want []string
	for i := range 5 {
		k := newKey(t, "m_a", key.EnvTest, base)
		x := extras(k, "key.created", base.Add(time.Duration(i)*time.Microsecond))
		if err := s.CreateKey(ctx, k, x); err != nil {
			t.Fatal(err)
		}
		want = append([]string{x.Audit.ID}, want...)
	}
	var got []string
	cur, pages := "", 0
	for {
		recs, next, err := s.ListAudit(ctx, "m_a", 2, cur)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if next == "" {
			break
		}
		cur = next
	}
	if pages != 3 || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%d pages %v, want 3 pages %v", pages, got, want)
	}
	if recs, _, err := s.ListAudit(ctx, "m_b", 2, ""); err != nil || len(recs) != 0 {
		t.Errorf("m_b sees %d records, %v", len(recs), err)
	}
	if _, _, err := s.ListAudit(ctx, "m_b", 2, cur); !errors.Is(err, key.ErrInvalid) {
		t.Errorf("m_b with m_a's cursor: %v", err)
	}
}

// The rolling window is tested on an in-memory table, on synctest's clock
// (ratelimit_test.go); here the conditional writes race on DynamoDB Local.
func TestRateLimitConcurrent(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Unix(time.Now().Unix()/60*60, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowedN := 0
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := s.RateLimit(ctx, "burst", 10, time.Minute, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				allowedN++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if allowedN != 10 {
		t.Errorf("%d of 30 concurrent tries allowed, want 10", allowedN)
	}
}

// faultyAPI fails every TransactWriteItems without sending it.
type faultyAPI struct {
	API
	calls int
}

var errInjected = errors.New("injected fault")

func (f *faultyAPI) TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.calls++
	return nil, errInjected
}

func TestTransactionFaultWritesNothing(t *testing.T) {
	db, table := testTable(t)
	good := New(db, table)
	faulty := &faultyAPI{API: db}
	bad := New(faulty, table)
	ctx := testenv.Context(t)

	k := newKey(t, "m_1", key.EnvTest, time.Now())
	x := extras(k, "key.created", time.Now())
	x.Idempotency = &key.IdempotencyRecord{MerchantID: "m_1", Subject: "user_1", Key: "i", CreatedAt: time.Now()}
	err := bad.CreateKey(ctx, k, x)
	if !errors.Is(err, errInjected) || faulty.calls != 1 {
		t.Fatalf("create: %v after %d calls, want the injected fault", err, faulty.calls)
	}
	if k.Revision != 0 {
		t.Errorf("a failed create set the revision to %d", k.Revision)
	}
	if _, err := good.GetKey(ctx, k.ID); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("key after failed create: %v", err)
	}
	if eventExists(t, good, x.Events[0].ID) || len(auditIDs(t, good, "m_1")) != 0 {
		t.Error("failed create wrote extras")
	}
	if _, err := good.GetIdempotency(ctx, "m_1", "user_1", "i"); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("idempotency record after failed create: %v", err)
	}

	if err := good.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	u := k.Clone()
	u.Name = "changed"
	xu := extras(u, "key.updated", time.Now())
	if err := bad.UpdateKey(ctx, u, xu); !errors.Is(err, errInjected) {
		t.Fatalf("update: %v", err)
	}
	got, err := good.GetKey(ctx, k.ID)
	if err != nil || got.Name != k.Name || got.Revision != 1 {
		t.Errorf("key after failed update: %+v, %v", got, err)
	}
	if eventExists(t, good, xu.Events[0].ID) || len(auditIDs(t, good, "m_1")) != 0 {
		t.Error("failed update wrote extras")
	}
}

func TestContextCancellationPassesThrough(t *testing.T) {
	s := testStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if _, err := s.GetKey(ctx, k.ID); !errors.Is(err, context.Canceled) {
		t.Errorf("GetKey: %v", err)
	}
	if err := s.CreateKey(ctx, k, outbox.Extras{}); !errors.Is(err, context.Canceled) {
		t.Errorf("CreateKey: %v", err)
	}
	if _, _, err := s.ListKeys(ctx, "m_1", key.ListFilter{}); !errors.Is(err, context.Canceled) {
		t.Errorf("ListKeys: %v", err)
	}
	if _, _, err := s.RateLimit(ctx, "x", 1, time.Second, time.Now()); !errors.Is(err, context.Canceled) {
		t.Errorf("RateLimit: %v", err)
	}
}

func BenchmarkGetKey(b *testing.B) {
	s := testStore(b)
	ctx := testenv.Context(b)
	k := newKey(b, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := s.GetKey(ctx, k.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCreateKey measures one TransactWriteItems of a key, an event and
// an audit record.
func BenchmarkCreateKey(b *testing.B) {
	s := testStore(b)
	ctx := testenv.Context(b)
	for b.Loop() {
		k := newKey(b, "m_1", key.EnvTest, time.Now())
		if err := s.CreateKey(ctx, k, extras(k, "key.created", time.Now())); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUpdateKey measures one conditional TransactWriteItems update of
// a key alone.
func BenchmarkUpdateKey(b *testing.B) {
	s := testStore(b)
	ctx := testenv.Context(b)
	k := newKey(b, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		k.Name = "n" + strconv.Itoa(int(k.Revision))
		if err := s.UpdateKey(ctx, k, outbox.Extras{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRateLimit(b *testing.B) {
	s := testStore(b)
	ctx := testenv.Context(b)
	for b.Loop() {
		if _, _, err := s.RateLimit(ctx, "bench", 1<<30, time.Minute, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
