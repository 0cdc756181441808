//go:build integration

package rotate_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

// cutStore is a create cut off after its secret was written: the record's
// write never happens and the request's context ends.
type cutStore struct {
	*store.Store
	cancel context.CancelFunc
}

func (c cutStore) CreateKey(ctx context.Context, _ *key.Key, _ outbox.Extras) error {
	c.cancel()
	return ctx.Err()
}

// TestSweepDeletesOrphanSecrets: a create cut off leaves its secret; a
// webhook endpoint whose record was never written leaves its signing
// secret (in the store of its own). The lifecycle job's sweep, in pages of
// two over several runs (each a fresh job, so the place is kept in the
// table), deletes both once they are older than the margin, and keeps a
// key's secret with its grace-period version and a name that is not the
// service's.
func TestSweepDeletesOrphanSecrets(t *testing.T) {
	e := newEnv(t)
	// Several runs of the job: more time than one test context, on a loaded machine.
	ctx, stop := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stop()
	e.ctx = ctx
	e.clock.Advance(time.Since(e.clock.Now())) // the stores date secrets by this machine's clock
	id, _ := e.create(keyOpts{})
	prev := e.get(id).SecretVersionID
	if _, err := e.svc.Reset(e.ctx, e.actor, id, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	cur := e.get(id).SecretVersionID

	cutCtx, cancel := context.WithCancel(e.ctx)
	logs := &testenv.LogBuffer{}
	cut := keysvc.New(cutStore{e.store, cancel}, e.secrets, app.Logger(logs, 0))
	if _, err := cut.Create(cutCtx, e.actor, key.NewParams{Name: "cut", Environment: key.EnvTest, Scopes: []string{"payments:read"}}, nil); err == nil {
		t.Fatal("the cut-off create succeeded")
	}
	if !strings.Contains(logs.String(), "orphan secret left for the sweep") {
		t.Fatalf("the cut-off create did not leave its secret: %s", logs)
	}
	// The endpoints' store beside the keys' (as <prefix>keys/ and <prefix>webhooks/ are).
	hooks := testenv.SecretStore(t, e.sm, e.db, e.table, strings.TrimSuffix(e.secrets.Name(""), "/")+"-webhooks/")
	hookSecret, hookVersion := hook.SecretName(key.NewID("we_")), key.NewVersionID()
	if err := hooks.Create(e.ctx, hookSecret, hookVersion, "whsec_unused"); err != nil {
		t.Fatal(err)
	}
	const foreign = "not-a-key-name"
	if err := e.secrets.Create(e.ctx, foreign, key.NewVersionID(), "someone else's"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.secrets.Delete(context.Background(), foreign) })
	names := e.secretNames()
	if len(names) != 3 {
		t.Fatalf("secrets before the sweep: %v, want the key's, the cut-off create's and the foreign one", names)
	}

	sweep := func() rotate.SweepStats {
		t.Helper()
		var total rotate.SweepStats
		for runs := 1; ; runs++ {
			j := e.job()
			j.Cursors, j.SweepLimit, j.StopMargin = e.store, 2, time.Second
			j.Sweeps = []rotate.SweptStore{
				{Kind: "keys", Secrets: e.secrets, Owner: rotate.KeyRecords(e.store)},
				{Kind: "webhooks", Secrets: hooks, Owner: rotate.EndpointRecords(e.store)},
			}
			st, err := j.Run(e.ctx)
			if err != nil || len(st.Orphans) != 2 {
				t.Fatalf("run %d: %+v, %v", runs, st, err)
			}
			ks, hs := st.Orphans["keys"], st.Orphans["webhooks"]
			if ks.Examined > 2 || hs.Examined > 2 {
				t.Fatalf("run %d examined %d and %d, over the limit of 2 a store", runs, ks.Examined, hs.Examined)
			}
			for _, o := range []*rotate.SweepStats{ks, hs} {
				total.Examined += o.Examined
				total.Young += o.Young
				total.Owned += o.Owned
				total.Deleted += o.Deleted
			}
			if ks.Wrapped { // the key store is the larger: the endpoint store wraps every run
				return total
			}
			if runs > 6 {
				t.Fatal("the sweep did not get round in 6 runs")
			}
		}
	}
	if st := sweep(); st.Deleted != 0 || st.Young < 4 {
		t.Fatalf("sweep within the margin: %+v, want every secret young and kept", st)
	}
	if got := e.secretNames(); !slices.Equal(got, names) {
		t.Fatalf("secrets after a sweep within the margin: %v, want %v", got, names)
	}

	e.clock.Advance(rotate.DefaultSweepMargin + time.Minute) // still inside the key's grace period
	// A deletion may shift the later pages of a listing (moto's list
	// tokens are offsets), so a secret skipped by one walk is examined by
	// the next: walks go on until one deletes nothing.
	deleted := 0
	for walks := 1; ; walks++ {
		st := sweep()
		deleted += st.Deleted
		if st.Deleted == 0 {
			if st.Owned != 2 {
				t.Errorf("the last walk: %+v, want the 2 kept secrets owned", st)
			}
			break
		}
		if walks > 3 {
			t.Fatalf("still deleting after %d walks", walks)
		}
	}
	if deleted != 2 {
		t.Errorf("the sweep deleted %d secrets, want the 2 orphans", deleted)
	}
	if got, want := e.secretNames(), []string{id, foreign}; !slices.Equal(got, slices.Sorted(slices.Values(want))) {
		t.Errorf("secrets after the sweep: %v, want %v", got, want)
	}
	for _, v := range []string{cur, prev} {
		if _, err := e.secrets.Get(e.ctx, id, v); err != nil {
			t.Errorf("the key's version %s after the sweep: %v", v, err)
		}
	}
	if _, err := hooks.Get(e.ctx, hookSecret, hookVersion); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("the endpoint's orphan secret after the sweep: %v", err)
	}
}

// secretNames lists the env's secret store, sorted.
func (e *env) secretNames() []string {
	e.t.Helper()
	seen := map[string]bool{}
	cursor := ""
	for {
		page, next, err := e.secrets.List(e.ctx, cursor, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, n := range page {
			seen[n] = true
		}
		if next == "" {
			break
		}
		cursor = next
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}
