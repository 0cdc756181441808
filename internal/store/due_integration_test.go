//go:build integration

package store

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/testenv"
)

// dueEntry reads a key item's due index attributes ("" when absent).
func dueEntry(t *testing.T, s *Store, id string) (pk, sk string) {
	t.Helper()
	out, err := s.api.GetItem(testenv.Context(t), &dynamodb.GetItemInput{
		TableName: aws.String(s.table), Key: itemKey(keyPK(id), keySK), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	return stringAttr(out.Item, attrGSI2PK), stringAttr(out.Item, attrGSI2SK)
}

func wantDueEntry(t *testing.T, s *Store, k *key.Key) {
	t.Helper()
	pk, sk := dueEntry(t, s, k.ID)
	next := k.NextDue()
	if next == nil {
		if pk != "" || sk != "" {
			t.Errorf("nothing is due but the item is in the due index: %q %q", pk, sk)
		}
		return
	}
	if want := dueKeyPK(dueKeyShard(k.ID)); pk != want {
		t.Errorf("gsi2pk = %q, want %q", pk, want)
	}
	if want := fmtTime(*next) + "#" + k.ID; sk != want {
		t.Errorf("gsi2sk = %q, want %q", sk, want)
	}
}

// TestDueEntryFollowsEveryWrite: create and each update rewrite the due
// entry from the record, and remove it when nothing is due.
func TestDueEntryFollowsEveryWrite(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	k := newKey(t, "m_1", key.EnvTest, now)
	if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	wantDueEntry(t, s, k) // nothing due: no entry

	exp := now.Add(30 * 24 * time.Hour)
	k.ExpiresAt = &exp
	if err := s.UpdateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	wantDueEntry(t, s, k) // the reminder, 7 days before

	k.ExpiringNoticeFor = exp
	k.RotationNoticeVersion = 1
	k.RetiringSecretVersionID = "v-0"
	if err := s.UpdateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	wantDueEntry(t, s, k) // a version to retire: at once
	got, err := s.GetKey(ctx, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameKey(t, got, k)

	k.RetiringSecretVersionID = ""
	if err := s.UpdateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	wantDueEntry(t, s, k) // the expiry itself

	k = k.Revoke(now)
	if err := s.UpdateKey(ctx, k, outbox.Extras{}); err != nil {
		t.Fatal(err)
	}
	wantDueEntry(t, s, k) // revoked: gone
	if got, err = s.GetKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	sameKey(t, got, k)
}

// TestDueKeysPages reads exactly the due keys, across shards and pages,
// and nothing else the due index holds.
func TestDueKeysPages(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var want []string
	for i := range 40 {
		k := newKey(t, "m_1", key.EnvTest, now.Add(-time.Duration(i)*time.Hour))
		switch i % 4 {
		case 0: // due: expired an hour ago
			k.ExpiresAt = aws.Time(now.Add(-time.Hour))
			want = append(want, k.ID)
		case 1: // due exactly now: the reminder
			k.ExpiresAt = aws.Time(now.Add(7 * 24 * time.Hour))
			want = append(want, k.ID)
		case 2: // due a nanosecond from now
			k.ExpiresAt = aws.Time(now.Add(7*24*time.Hour + time.Nanosecond))
		case 3: // never due
		}
		if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
			t.Fatal(err)
		}
	}
	// Other work in the due index is not a key's.
	other := newKey(t, "m_1", key.EnvTest, now)
	if err := s.CreateKey(ctx, other, outbox.Extras{Events: []outbox.Event{{ID: "msg_due_other", Type: "key.created",
		MerchantID: "m_1", ResourceID: other.ID, CreatedAt: now.Add(-time.Hour), Data: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}

	var got []string
	cursor, pages := "", 0
	for {
		page, next, err := s.DueKeys(ctx, now, cursor, 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 3 {
			t.Fatalf("page of %d, limit 3", len(page))
		}
		for _, dk := range page {
			if dk.Due.After(now) {
				t.Errorf("%s due %v, after now", dk.ID, dk.Due)
			}
			got = append(got, dk.ID)
		}
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("due keys:\n got %v\nwant %v", got, want)
	}
	if pages < len(want)/3 {
		t.Errorf("%d pages for %d keys", pages, len(want))
	}

	// One call with a large limit reads the same.
	all, next, err := s.DueKeys(ctx, now, "", 1000)
	if err != nil || next != "" || len(all) != len(want) {
		t.Errorf("one page: %d keys, next %q, err %v; want %d", len(all), next, err, len(want))
	}
}

// TestDueKeysSkipsHandledKeys: a key handled between pages (its due time
// moved on) is not read again, and the pages after it still come.
func TestDueKeysSkipsHandledKeys(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for i := range 12 {
		k := newKey(t, "m_1", key.EnvTest, now)
		k.ExpiresAt = aws.Time(now.Add(-time.Duration(i+1) * time.Minute))
		if err := s.CreateKey(ctx, k, outbox.Extras{}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor := ""
	for {
		page, next, err := s.DueKeys(ctx, now, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, dk := range page {
			if seen[dk.ID] {
				t.Errorf("%s read twice", dk.ID)
			}
			seen[dk.ID] = true
			k, err := s.GetKey(ctx, dk.ID)
			if err != nil {
				t.Fatal(err)
			}
			n, _ := k.Sweep(now)
			if err := s.UpdateKey(ctx, n, outbox.Extras{}); err != nil {
				t.Fatal(err)
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 12 {
		t.Errorf("read %d keys, want 12", len(seen))
	}
	if rest, _, err := s.DueKeys(ctx, now, "", 100); err != nil || len(rest) != 0 {
		t.Errorf("after handling: %d due, %v", len(rest), err)
	}
}

func TestDueKeysRejectsBadCursor(t *testing.T) {
	s := testStore(t)
	ctx := testenv.Context(t)
	for _, c := range []string{"x", encodeDueCursor(8, ""), encodeDueCursor(0, "garbage"), "MXw!"} {
		if _, _, err := s.DueKeys(ctx, time.Now(), c, 10); !errors.Is(err, errBadDueCursor) {
			t.Errorf("cursor %q: %v, want a bad cursor", c, err)
		}
	}
	if _, _, err := s.DueKeys(ctx, time.Now(), "", 0); err == nil {
		t.Error("limit 0 accepted")
	}
}

// TestLoadKeysAndScanEvents: bulk-loaded keys read back as created and are
// in the due index; ScanKeyEvents finds a key's events.
func TestLoadKeysAndScanEvents(t *testing.T) {
	db, table := testTable(t)
	s := New(db, table)
	ctx := testenv.Context(t)
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	var keys []*key.Key
	for i := range 60 {
		k := newKey(t, "m_load", key.EnvTest, now)
		k.ExpiresAt = aws.Time(now.Add(time.Duration(i-30) * time.Hour))
		keys = append(keys, k)
	}
	if err := LoadKeys(ctx, db, table, keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys[:3] {
		got, err := s.GetKey(ctx, k.ID)
		if err != nil {
			t.Fatal(err)
		}
		k.Revision = 1
		sameKey(t, got, k)
	}
	due, _, err := s.DueKeys(ctx, now, "", 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Due: expired (30 keys up to now included) and expiring within 7 days (the rest).
	if len(due) != 60 {
		t.Errorf("%d due, want 60", len(due))
	}

	k := keys[0]
	x := extras(k, "key.expired", now)
	k.Status = key.StatusExpired
	if err := s.UpdateKey(ctx, k, x); err != nil {
		t.Fatal(err)
	}
	events, err := ScanKeyEvents(ctx, db, table, k.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 || events[0].Type != "key.expired" || events[0].ID != x.Events[0].ID {
		t.Errorf("events %+v", events)
	}
	if events, err := ScanKeyEvents(ctx, db, table, keys[1].ID); err != nil || len(events) != 0 {
		t.Errorf("events of another key: %v, %v", events, err)
	}
}
