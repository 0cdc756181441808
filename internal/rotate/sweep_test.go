package rotate

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/secret"
)

// fakeSecrets is a secret store listing names in order, pageSize at a time,
// with the page's start index as its cursor.
type fakeSecrets struct {
	listed   []secret.Listed
	deleted  []string
	failList bool
}

func (f *fakeSecrets) ListDated(_ context.Context, cursor string, limit int) ([]secret.Listed, string, error) {
	if f.failList {
		return nil, "", errors.New("list failed")
	}
	i := 0
	if cursor != "" {
		i, _ = strconv.Atoi(cursor)
	}
	end := min(i+limit, len(f.listed))
	next := ""
	if end < len(f.listed) {
		next = strconv.Itoa(end)
	}
	return f.listed[i:end], next, nil
}

func (f *fakeSecrets) Delete(_ context.Context, name string) error {
	f.deleted = append(f.deleted, name)
	return nil
}

type fakeCursors struct {
	cursor string
	saves  int
}

func (c *fakeCursors) JobCursor(context.Context, string) (string, error) { return c.cursor, nil }
func (c *fakeCursors) SaveJobCursor(_ context.Context, _, cur string) error {
	c.cursor = cur
	c.saves++
	return nil
}

// records answers GetKey and GetEndpoint from sets of IDs; broken IDs fail.
type records struct {
	emptyStore
	keys, endpoints, broken, revoked map[string]bool
}

func (r records) GetKey(_ context.Context, id string) (*key.Key, error) {
	switch {
	case r.broken[id]:
		return nil, errors.New("read failed")
	case r.revoked[id]:
		return &key.Key{ID: id, Status: key.StatusRevoked}, nil
	case r.keys[id]:
		return &key.Key{ID: id, Status: key.StatusActive}, nil
	}
	return nil, key.NotFound("key", id)
}

func (r records) GetEndpoint(_ context.Context, id string) (*hook.Endpoint, error) {
	if r.endpoints[id] {
		return &hook.Endpoint{ID: id}, nil
	}
	return nil, key.NotFound("endpoint", id)
}

// sweepJob sweeps key secrets in sec, and webhook signing secrets in hooks
// when it is not nil.
func sweepJob(st records, sec *fakeSecrets, cur *fakeCursors, now time.Time) *Job {
	j := New(st, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	j.Now = func() time.Time { return now }
	j.Cursors = cur
	j.Sweeps = []SweptStore{{Kind: "keys", Secrets: sec, Owner: KeyRecords(st)}}
	return j
}

func TestSweepDeletesOnlyOldSecretsNoRecordNames(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old, young := now.Add(-2*time.Hour), now.Add(-10*time.Minute)
	live, orphan, inFlight, broken := key.NewClientID(key.EnvTest), key.NewClientID(key.EnvTest), key.NewClientID(key.EnvTest), key.NewClientID(key.EnvTest)
	hooked, hookOrphan := key.NewID("we_"), key.NewID("we_")
	keys := &fakeSecrets{listed: []secret.Listed{
		{Name: live, Written: old},             // a key (its grace-period version lives in it too)
		{Name: orphan, Written: old},           // a cut-off create's secret
		{Name: inFlight, Written: young},       // a create that may still write its record
		{Name: broken, Written: old},           // its record cannot be read
		{Name: "something-else", Written: old}, // not a name this service makes
		{Name: hookOrphan, Written: old},       // an endpoint's name among the keys: not a key's
	}}
	hooks := &fakeSecrets{listed: []secret.Listed{
		{Name: hooked, Written: old},     // an endpoint's signing secret
		{Name: hookOrphan, Written: old}, // an endpoint create that failed
		{Name: orphan, Written: old},     // a key's name among the endpoints: not an endpoint's
		{Name: "we_short", Written: old}, // not a name this service makes
	}}
	st := records{
		keys: map[string]bool{live: true}, endpoints: map[string]bool{hooked: true},
		broken: map[string]bool{broken: true},
	}
	cur := &fakeCursors{}
	j := sweepJob(st, keys, cur, now)
	j.Sweeps = append(j.Sweeps, SweptStore{Kind: "webhooks", Secrets: hooks, Owner: EndpointRecords(st)})
	got, err := j.Run(context.Background())
	if err == nil {
		t.Error("a record that cannot be read should fail the run")
	}
	if want := []string{orphan}; !slices.Equal(keys.deleted, want) {
		t.Errorf("deleted keys' secrets %v, want %v", keys.deleted, want)
	}
	if want := []string{hookOrphan}; !slices.Equal(hooks.deleted, want) {
		t.Errorf("deleted endpoints' secrets %v, want %v", hooks.deleted, want)
	}
	want := map[string]SweepStats{
		"keys":     {Examined: 6, Young: 1, Owned: 3, Deleted: 1, Failed: 1, Wrapped: true},
		"webhooks": {Examined: 4, Owned: 3, Deleted: 1, Wrapped: true},
	}
	for kind, w := range want {
		if g := got.Orphans[kind]; g == nil || *g != w {
			t.Errorf("%s stats %+v, want %+v", kind, g, w)
		}
	}
	if cur.cursor != "" {
		t.Errorf("cursor after the whole walk %q, want the start", cur.cursor)
	}
}

func TestSweepResumesAcrossRuns(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	sec := &fakeSecrets{}
	for range 7 {
		sec.listed = append(sec.listed, secret.Listed{Name: key.NewClientID(key.EnvTest), Written: now.Add(-DefaultSweepMargin - time.Second)})
	}
	cur := &fakeCursors{}
	runs := 0
	for {
		j := sweepJob(records{}, sec, cur, now)
		j.SweepLimit = 3
		st, err := j.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		runs++
		if st.Orphans["keys"].Examined > 3 {
			t.Fatalf("run %d examined %d, over the limit", runs, st.Orphans["keys"].Examined)
		}
		if st.Orphans["keys"].Wrapped {
			break
		}
		if cur.cursor == "" || runs > 5 {
			t.Fatalf("run %d stopped at the limit without saving its place (cursor %q)", runs, cur.cursor)
		}
	}
	if runs != 3 || len(sec.deleted) != 7 {
		t.Errorf("%d runs deleted %d of 7 orphans, want 3 runs", runs, len(sec.deleted))
	}
	if cur.cursor != "" || cur.saves != 3 {
		t.Errorf("cursor %q after %d saves, want the start after 3", cur.cursor, cur.saves)
	}
}

func TestSweepStartsOverWhenTheCursorFails(t *testing.T) {
	sec := &fakeSecrets{failList: true}
	cur := &fakeCursors{cursor: "expired"}
	if _, err := sweepJob(records{}, sec, cur, time.Now()).Run(context.Background()); err == nil {
		t.Fatal("a failed listing should fail the run")
	}
	if cur.cursor != "" {
		t.Errorf("cursor %q, want the start for the next run", cur.cursor)
	}
}

func TestSweepOffWithoutItsParts(t *testing.T) {
	sec := &fakeSecrets{listed: []secret.Listed{{Name: key.NewClientID(key.EnvTest)}}}
	j := sweepJob(records{}, sec, &fakeCursors{}, time.Now())
	j.Cursors = nil
	st, err := j.Run(context.Background())
	if err != nil || st.Orphans != nil || len(sec.deleted) != 0 {
		t.Errorf("run without cursors %+v, %v; deleted %v", st, err, sec.deleted)
	}
	j = sweepJob(records{}, sec, &fakeCursors{}, time.Now())
	j.Sweeps = nil
	st, err = j.Run(context.Background())
	if err != nil || st.Orphans != nil || len(sec.deleted) != 0 {
		t.Errorf("run %+v, %v; deleted %v", st, err, sec.deleted)
	}
}

// A page of mostly orphans is another table's secrets: nothing is deleted
// and the run fails; the same orphans among many owned secrets are swept.
func TestSweepBrakesOnAPageOfOrphans(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Hour)
	for _, tt := range []struct {
		owned, orphans int
		deleted        int
		fails          bool
	}{
		{owned: 0, orphans: sweepBrake, fails: true},
		{owned: sweepBrake - 1, orphans: sweepBrake, fails: true},
		{owned: sweepBrake, orphans: sweepBrake, deleted: sweepBrake},
		{owned: 0, orphans: sweepBrake - 1, deleted: sweepBrake - 1},
	} {
		sec := &fakeSecrets{}
		st := records{keys: map[string]bool{}}
		for i := range tt.owned + tt.orphans {
			id := key.NewClientID(key.EnvTest)
			if i < tt.owned {
				st.keys[id] = true
			}
			sec.listed = append(sec.listed, secret.Listed{Name: id, Written: old})
		}
		got, err := sweepJob(st, sec, &fakeCursors{}, now).Run(context.Background())
		if (err != nil) != tt.fails || len(sec.deleted) != tt.deleted || got.Orphans["keys"].Deleted != tt.deleted {
			t.Errorf("%d owned, %d orphans: deleted %d (stats %+v), error %v; want %d deleted, failure %v",
				tt.owned, tt.orphans, len(sec.deleted), got.Orphans["keys"], err, tt.deleted, tt.fails)
		}
	}
}

// A revoke commits the revoked record, then destroys the secret; when that
// delete fails, the sweep destroys what is left. A revoked key's secret is
// not an orphan of another table, so a page of them does not brake.
func TestSweepDestroysRevokedKeysSecrets(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	old := now.Add(-2 * time.Hour)
	sec := &fakeSecrets{}
	st := records{keys: map[string]bool{}, revoked: map[string]bool{}}
	var want []string
	for i := range sweepBrake + 2 {
		id := key.NewClientID(key.EnvTest)
		if i == 0 {
			st.keys[id] = true // a live key: kept
		} else {
			st.revoked[id] = true
			want = append(want, id)
		}
		sec.listed = append(sec.listed, secret.Listed{Name: id, Written: old})
	}
	got, err := sweepJob(st, sec, &fakeCursors{}, now).Run(context.Background())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !slices.Equal(sec.deleted, want) {
		t.Errorf("deleted %v, want the revoked keys' secrets %v", sec.deleted, want)
	}
	if o := got.Orphans["keys"]; o == nil || o.Owned != 1 || o.Revoked != len(want) || o.Deleted != len(want) {
		t.Errorf("stats %+v, want 1 owned and %d revoked, deleted", o, len(want))
	}
}
