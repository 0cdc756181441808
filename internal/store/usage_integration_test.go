//go:build integration

package store

import (
	"errors"
	"maps"
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

// partition returns every item of a key's partition.
// partition returns the items of a client ID: those of its key partition
// and of its usage partition.
func partition(t *testing.T, s *Store, id string) []map[string]types.AttributeValue {
	t.Helper()
	var items []map[string]types.AttributeValue
	for _, pk := range []string{keyPK(id), usagePK(id)} {
		out, err := s.api.Query(testenv.Context(t), &dynamodb.QueryInput{
			TableName:                 aws.String(s.table),
			KeyConditionExpression:    aws.String("#pk = :pk"),
			ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": avS(pk)},
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, out.Items...)
	}
	return items
}

// getUsedKey reads a key with its last use, as the management API does.
func getUsedKey(t *testing.T, s *Store, id string) *key.Key {
	t.Helper()
	k, err := s.GetKey(testenv.Context(t), id)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AttachLastUse(testenv.Context(t), k); err != nil {
		t.Fatal(err)
	}
	return k
}

func sameDays(t *testing.T, got, want []key.UsageDay) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d days %+v, want %+v", len(got), got, want)
	}
	for i := range want {
		if got[i].Date != want[i].Date || got[i].Allowed != want[i].Allowed || !maps.Equal(got[i].Denied, want[i].Denied) {
			t.Errorf("day %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestUsageCountersAddUp(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	adds := []key.UsageDay{
		{Date: "2026-11-23", Allowed: 3, Denied: map[string]int64{"NOT_FOUND": 1}},
		{Date: "2026-11-23", Allowed: 2, Denied: map[string]int64{"NOT_FOUND": 2, "SIGNATURE_INVALID": 1, "REVOKED": 0}},
		{Date: "2026-11-25", Denied: map[string]int64{"NONCE_REUSED": 4}},
		{Date: "2026-11-22", Allowed: 7},
		{Date: "2026-11-24"}, // nothing to add: no item
	}
	for i, a := range adds {
		if err := s.AddUsage(ctx, k.ID, a, "tok-"+strconv.Itoa(i)+"-"+k.ID[8:20]); err != nil {
			t.Fatalf("add %d: %v", i, err)
		}
	}
	got, err := s.ListUsage(ctx, k.ID, "2026-11-01", "2026-11-30")
	if err != nil {
		t.Fatal(err)
	}
	sameDays(t, got, []key.UsageDay{
		{Date: "2026-11-22", Allowed: 7, Denied: map[string]int64{}},
		{Date: "2026-11-23", Allowed: 5, Denied: map[string]int64{"NOT_FOUND": 3, "SIGNATURE_INVALID": 1}},
		{Date: "2026-11-25", Denied: map[string]int64{"NONCE_REUSED": 4}},
	})

	// from and to are inclusive; the key item itself never shows up.
	got, err = s.ListUsage(ctx, k.ID, "2026-11-23", "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Date != "2026-11-23" {
		t.Errorf("one-day range = %+v", got)
	}

	// The TTL is about 400 days after the day began.
	item := partition(t, s, k.ID)
	var ttl string
	for _, it := range item {
		if stringAttr(it, attrSK) == "DAY#2026-11-23" {
			ttl = it[attrTTL].(*types.AttributeValueMemberN).Value
		}
	}
	day := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	if want := strconv.FormatInt(day.Add(400*24*time.Hour).Unix(), 10); ttl != want {
		t.Errorf("ttl = %s, want %s", ttl, want)
	}

	// The key's revision is untouched, so a concurrent update is never stale.
	if cur, err := s.GetKey(ctx, k.ID); err != nil || cur.Revision != 1 {
		t.Errorf("key after usage writes: revision %v, %v", cur, err)
	}
}

func TestUsageSameTokenCountsOnce(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	d := key.UsageDay{Date: "2026-11-23", Allowed: 2, Denied: map[string]int64{"DISABLED": 1}}
	token := "retry-" + k.ID[8:30]
	for range 3 { // a retry after a lost answer
		if err := s.AddUsage(ctx, k.ID, d, token); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddUsage(ctx, k.ID, d, "other-"+k.ID[8:30]); err != nil {
		t.Fatal(err)
	}
	got, err := s.ListUsage(ctx, k.ID, "2026-11-23", "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	sameDays(t, got, []key.UsageDay{{Date: "2026-11-23", Allowed: 4, Denied: map[string]int64{"DISABLED": 2}}})
}

func TestUsageConcurrentAddsSum(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			// Two writers on one day item can conflict in DynamoDB; the
			// caller tries again, with a new token once the write was
			// refused for sure, as the recorder does.
			var err error
			for try := range 20 {
				tok := "c" + strconv.Itoa(i) + "-" + strconv.Itoa(try) + "-" + k.ID[8:20]
				if err = s.AddUsage(ctx, k.ID, key.UsageDay{Date: "2026-11-23", Allowed: 1, Denied: map[string]int64{"EXPIRED": 2}}, tok); err == nil {
					return
				}
				if !errors.Is(err, ErrUsageNotWritten) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, err := s.ListUsage(ctx, k.ID, "2026-11-23", "2026-11-23")
	if err != nil {
		t.Fatal(err)
	}
	sameDays(t, got, []key.UsageDay{{Date: "2026-11-23", Allowed: 40, Denied: map[string]int64{"EXPIRED": 80}}})
}

func TestUsageOfUnknownClientIDCreatesNothing(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	ghost := key.NewClientID(key.EnvLive) // well formed, but no key has it
	err := s.AddUsage(ctx, ghost, key.UsageDay{Date: "2026-11-23", Denied: map[string]int64{"NOT_FOUND": 5}}, "")
	if !errors.Is(err, key.ErrNotFound) {
		t.Fatalf("add usage of an unknown client ID: %v, want key.ErrNotFound", err)
	}
	wrote, err := s.SetLastUsed(ctx, ghost, time.Now(), "203.0.113.7")
	if err != nil || wrote {
		t.Fatalf("set last use of an unknown client ID: wrote %v, %v", wrote, err)
	}
	if err := s.AddUsage(ctx, "ck_test_not-a-client-id", key.UsageDay{Date: "2026-11-23", Allowed: 1}, ""); !errors.Is(err, key.ErrNotFound) {
		t.Errorf("add usage of a malformed client ID: %v", err)
	}
	if items := partition(t, s, ghost); len(items) != 0 {
		t.Errorf("an unknown client ID left %d items: %v", len(items), items)
	}
	if days, err := s.ListUsage(ctx, ghost, "2026-01-01", "2026-12-31"); err != nil || len(days) != 0 {
		t.Errorf("usage of an unknown client ID = %v, %v", days, err)
	}
}

func TestUsageRejectsBadInput(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	id := key.NewClientID(key.EnvTest)
	for name, d := range map[string]key.UsageDay{
		"bad date":       {Date: "2026-11-5", Allowed: 1},
		"bad code":       {Date: "2026-11-23", Denied: map[string]int64{"not a code": 1}},
		"negative count": {Date: "2026-11-23", Allowed: -1},
	} {
		if err := s.AddUsage(ctx, id, d, ""); err == nil || errors.Is(err, key.ErrNotFound) {
			t.Errorf("%s: %v, want a validation error", name, err)
		}
	}
	if _, err := s.ListUsage(ctx, id, "2026-11-23", "23/11/2026"); err == nil {
		t.Error("list usage accepted a malformed date")
	}
}

func TestLastUsedNeverGoesBackwards(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	k := newKey(t, "m_1", key.EnvTest, time.Now())
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	t1 := time.Date(2026, 11, 23, 10, 0, 0, 123456789, time.UTC)
	check := func(step string, at time.Time, ip string) {
		t.Helper()
		got := getUsedKey(t, s, k.ID)
		if got.LastUsedAt == nil || !got.LastUsedAt.Equal(at) || got.LastUsedIP != ip {
			t.Errorf("%s: last used %v from %q, want %v from %q", step, got.LastUsedAt, got.LastUsedIP, at, ip)
		}
		if got.Revision != k.Revision {
			t.Errorf("%s: revision %d, want %d: a last-use write bumped it", step, got.Revision, k.Revision)
		}
	}
	steps := []struct {
		name   string
		at     time.Time
		ip     string
		wrote  bool
		wantAt time.Time
		wantIP string
	}{
		{"first use", t1, "203.0.113.7", true, t1, "203.0.113.7"},
		{"earlier use", t1.Add(-time.Nanosecond), "198.51.100.1", false, t1, "203.0.113.7"},
		{"same time", t1, "198.51.100.1", false, t1, "203.0.113.7"},
		{"later use", t1.Add(time.Nanosecond), "2001:db8::1", true, t1.Add(time.Nanosecond), "2001:db8::1"},
		{"later, no address", t1.Add(time.Hour), "", true, t1.Add(time.Hour), ""},
		{"a day earlier", t1.Add(-24 * time.Hour), "198.51.100.1", false, t1.Add(time.Hour), ""},
	}
	for _, st := range steps {
		wrote, err := s.SetLastUsed(ctx, k.ID, st.at, st.ip)
		if err != nil || wrote != st.wrote {
			t.Fatalf("%s: wrote %v, %v; want %v", st.name, wrote, err, st.wrote)
		}
		check(st.name, st.wantAt, st.wantIP)
	}

	// An update made from a read before those writes is not stale and
	// keeps the last use.
	n := k.Clone()
	n.Name = "renamed"
	if err := s.UpdateKey(ctx, n, outbox.Extras{}); err != nil {
		t.Fatalf("update after last-use writes: %v", err)
	}
	k.Revision = n.Revision
	check("after an update", t1.Add(time.Hour), "")
}
