//go:build integration

package rotate_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/app"
	"github.com/paykeys/paykeys/internal/authz"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/outbox"
	"github.com/paykeys/paykeys/internal/rotate"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

const day = 24 * time.Hour

// env is a table, a secret prefix, the key service, an authorizer engine
// without a cache and the job, all on one clock.
type env struct {
	t       *testing.T
	ctx     context.Context
	clock   *testenv.Clock
	db      *dynamodb.Client
	sm      *secretsmanager.Client
	table   string
	ddb     *testenv.Faults
	store   *store.Store
	secrets secret.Backend
	svc     *keysvc.Service
	engine  *authz.Engine
	actor   key.Actor
	logs    *testenv.LogBuffer
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{
		t: t, ctx: testenv.Context(t), db: testenv.Dynamo(t), sm: testenv.Secrets(t),
		table: testenv.UniqueName(t, "rotate-"), ddb: testenv.NewFaults(), logs: &testenv.LogBuffer{},
		clock: testenv.NewClock(time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)),
		actor: key.Actor{Subject: "user_1", MerchantID: "m_rotate", Role: "admin", RequestID: "req_1"},
	}
	if err := store.CreateTable(e.ctx, e.db, e.table); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if _, err := e.db.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(e.table)}); err != nil {
			t.Logf("delete table: %v", err)
		}
	})
	e.store = store.New(testenv.FaultyDynamo{Client: e.db, F: e.ddb}, e.table)
	e.secrets = testenv.SecretStore(t, e.sm, e.db, e.table, testenv.UniqueName(t, "rotate-")+"/")
	e.svc = keysvc.New(e.store, e.secrets, app.Logger(e.logs, 0))
	e.svc.Now = e.clock.Now
	e.engine = authz.New(e.store, e.secrets, e.store, authz.Options{CacheTTL: -1})
	e.engine.Now = e.clock.Now
	return e
}

// job returns a job on the env's store, secrets and clock.
func (e *env) job() *rotate.Job {
	j := rotate.New(e.store, e.secrets, app.Logger(e.logs, 0))
	j.Now = e.clock.Now
	// The test's context ends a minute after it starts: with the default
	// margin, a run started after a slow set-up (a loaded machine) would
	// stop at once. Stopping early is TestStopsBeforeDeadline's subject.
	j.StopMargin = time.Second
	return j
}

// run runs a fresh job once and fails the test on an error.
func (e *env) run() rotate.Stats {
	e.t.Helper()
	st, err := e.job().Run(e.ctx)
	if err != nil {
		e.t.Fatalf("run: %v (stats %+v)", err, st)
	}
	return st
}

type keyOpts struct {
	expiresIn    time.Duration // 0: never
	rotationDays int           // 0: none
}

// create makes a key through the key service and returns it with its secret.
func (e *env) create(o keyOpts) (string, string) {
	e.t.Helper()
	p := key.NewParams{Name: "scheduled", Environment: key.EnvTest, Scopes: []string{"payments:read"}}
	if o.expiresIn > 0 {
		p.ExpiresAt = aws.Time(e.clock.Now().Add(o.expiresIn))
	}
	if o.rotationDays > 0 {
		p.RotationDays = aws.Int(o.rotationDays)
	}
	c, err := e.svc.Create(e.ctx, e.actor, p, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { _ = e.secrets.Delete(context.Background(), c.Key.ID) })
	return c.Key.ID, c.Secret
}

func (e *env) get(id string) *key.Key {
	e.t.Helper()
	k, err := e.store.GetKey(e.ctx, id)
	if err != nil {
		e.t.Fatal(err)
	}
	return k
}

// events counts the outbox events about a key by type.
func (e *env) events(id string) map[string]int {
	e.t.Helper()
	evs, err := store.ScanKeyEvents(e.ctx, e.db, e.table, id)
	if err != nil {
		e.t.Fatal(err)
	}
	n := map[string]int{}
	for _, ev := range evs {
		n[ev.Type]++
	}
	return n
}

// wantEvents checks a key's event counts (key.created is left out).
func (e *env) wantEvents(id string, want map[string]int) {
	e.t.Helper()
	got := e.events(id)
	delete(got, outbox.EventKeyCreated)
	if want == nil {
		want = map[string]int{}
	}
	if !reflect.DeepEqual(got, want) {
		e.t.Errorf("events of %s: %v, want %v", id, got, want)
	}
}

// decide asks the engine about a bearer secret.
func (e *env) decide(secret string) key.Code {
	e.t.Helper()
	d, err := e.engine.Decide(e.ctx, authz.Request{Bearer: secret, Need: key.Requirement{Environment: key.EnvTest, Scope: "payments:read"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return d.Code
}

// due lists the keys the due index has at the clock's now.
func (e *env) due() []string {
	e.t.Helper()
	var ids []string
	cursor := ""
	for {
		page, next, err := e.store.DueKeys(e.ctx, e.clock.Now(), cursor, 100)
		if err != nil {
			e.t.Fatal(err)
		}
		for _, dk := range page {
			ids = append(ids, dk.ID)
		}
		if next == "" {
			return ids
		}
		cursor = next
	}
}

func TestExpiry(t *testing.T) {
	e := newEnv(t)
	id, sk := e.create(keyOpts{expiresIn: 30 * day})
	other, otherSK := e.create(keyOpts{})
	if st := e.run(); st.IndexItems != 0 || st.Events != 0 {
		t.Errorf("nothing due yet, but %+v", st)
	}
	// The reminder comes 7 days before; then the expiry.
	e.clock.Advance(23 * day)
	e.run()
	e.wantEvents(id, map[string]int{outbox.EventKeyExpiring: 1})
	e.clock.Advance(7*day + time.Second)
	// Past expires_at the key is denied as expired even before the run.
	if code := e.decide(sk); code != key.CodeExpired {
		t.Errorf("before the run: %s, want EXPIRED", code)
	}
	st := e.run()
	if st.ByType[outbox.EventKeyExpired] != 1 || st.Keys != 1 || st.IndexItems != 1 {
		t.Errorf("stats %+v", st)
	}
	k := e.get(id)
	if k.Status != key.StatusExpired {
		t.Errorf("status %s, want expired", k.Status)
	}
	e.wantEvents(id, map[string]int{outbox.EventKeyExpiring: 1, outbox.EventKeyExpired: 1})
	if code := e.decide(sk); code != key.CodeExpired {
		t.Errorf("after the run: %s, want EXPIRED", code)
	}
	if code := e.decide(otherSK); code != key.CodeValid {
		t.Errorf("the key without expiry: %s", code)
	}
	e.wantEvents(other, nil)
	// The expired key has left the due index; later runs read nothing.
	e.clock.Advance(400 * day)
	if st := e.run(); st.IndexItems != 0 || st.Events != 0 {
		t.Errorf("later run: %+v", st)
	}
	e.wantEvents(id, map[string]int{outbox.EventKeyExpiring: 1, outbox.EventKeyExpired: 1})

	// The audit log says who expired it.
	recs, _, err := e.store.ListAudit(e.ctx, e.actor.MerchantID, 100, "")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		if r.ResourceID == id && r.Action == "key.expire" && r.Actor == rotate.Actor {
			found = true
		}
	}
	if !found {
		t.Errorf("no audit record of the expiry: %+v", recs)
	}
}

func TestRevokedKeyNeverExpires(t *testing.T) {
	e := newEnv(t)
	id, _ := e.create(keyOpts{expiresIn: 2 * day, rotationDays: 1})
	if err := e.svc.Revoke(e.ctx, e.actor, id); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(10 * day)
	if st := e.run(); st.IndexItems != 0 {
		t.Errorf("a revoked key was read: %+v", st)
	}
	e.wantEvents(id, map[string]int{outbox.EventKeyRevoked: 1})
	if got := e.get(id).Status; got != key.StatusRevoked {
		t.Errorf("status %s", got)
	}
}

func TestExpiringReminderOnce(t *testing.T) {
	e := newEnv(t)
	near, _ := e.create(keyOpts{expiresIn: 3 * day}) // closer than 7 days: at once
	far, _ := e.create(keyOpts{expiresIn: 20 * day})
	for range 5 {
		e.run()
		e.clock.Advance(time.Hour)
	}
	e.wantEvents(near, map[string]int{outbox.EventKeyExpiring: 1})
	e.wantEvents(far, nil)
	for range 14 {
		e.clock.Advance(day)
		e.run()
	}
	e.wantEvents(far, map[string]int{outbox.EventKeyExpiring: 1})
	e.wantEvents(near, map[string]int{outbox.EventKeyExpiring: 1, outbox.EventKeyExpired: 1})

	// A new expiry gets its own reminder.
	k := e.get(far)
	if _, err := e.svc.Update(e.ctx, e.actor, far, key.Patch{ExpiresAt: key.Field[*time.Time]{Set: true, Value: aws.Time(k.ExpiresAt.Add(30 * day))}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.run()
	}
	e.wantEvents(far, map[string]int{outbox.EventKeyExpiring: 1, outbox.EventKeyUpdated: 1})
	e.clock.Advance(30 * day)
	e.run()
	e.run()
	e.wantEvents(far, map[string]int{outbox.EventKeyExpiring: 2, outbox.EventKeyUpdated: 1})
}

func TestGraceEnds(t *testing.T) {
	e := newEnv(t)
	id, old := e.create(keyOpts{})
	v1 := e.get(id).SecretVersionID
	iss, err := e.svc.Reset(e.ctx, e.actor, id, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if code := e.decide(old); code != key.CodeValid {
		t.Fatalf("old secret inside its grace: %s", code)
	}
	e.run()
	if k := e.get(id); k.PrevSecretVersionID != v1 {
		t.Fatal("the run ended a grace period early")
	}

	e.clock.Advance(time.Hour)
	st := e.run()
	if st.Retired != 1 || st.Events != 0 || st.Updated != 2 {
		t.Errorf("stats %+v", st)
	}
	k := e.get(id)
	if k.PrevSecretHash != nil || k.PrevSecretVersion != 0 || k.PrevSecretVersionID != "" || k.PrevSecretExpiresAt != nil || k.RetiringSecretVersionID != "" {
		t.Errorf("previous secret still on the record: %+v", k)
	}
	if k.MatchSecret(key.Hash(old), e.clock.Now()) != key.NoMatch {
		t.Error("the old secret still matches")
	}
	if code := e.decide(old); code != key.CodeNotFound {
		t.Errorf("old secret after the run: %s, want NOT_FOUND", code)
	}
	if code := e.decide(iss.Secret); code != key.CodeValid {
		t.Errorf("new secret: %s", code)
	}
	// In the secret store the old version has no label left (the envelope
	// store destroys it).
	labels, err := e.secrets.Versions(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if stages := labels[v1]; len(stages) != 0 {
		t.Errorf("old version still labelled %v", stages)
	}
	if stages := labels[k.SecretVersionID]; !reflect.DeepEqual(stages, []string{secret.StageCurrent}) {
		t.Errorf("current version labelled %v", stages)
	}
	if ids := e.due(); len(ids) != 0 {
		t.Errorf("still due: %v", ids)
	}
	e.wantEvents(id, map[string]int{outbox.EventKeyReset: 1})
}

// TestRetireResumes: a run that forgot the previous secret but could not
// retire its version leaves the key due; the next run retires it.
func TestRetireResumes(t *testing.T) {
	e := newEnv(t)
	id, _ := e.create(keyOpts{})
	v1 := e.get(id).SecretVersionID
	if _, err := e.svc.Reset(e.ctx, e.actor, id, time.Minute); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Minute)

	faults := testenv.NewFaults()
	faults.FailAll("UpdateSecretVersionStage")
	faults.FailAll("DeleteSecret")
	j := e.job()
	j.Secrets = testenv.FaultySecretStore(t, faults, e.table, e.secrets.Name(""))
	st, err := j.Run(e.ctx)
	if err == nil || st.Failed != 1 {
		t.Fatalf("run with a failing secret store: %v, %+v", err, st)
	}
	k := e.get(id)
	if k.PrevSecretVersionID != "" || k.RetiringSecretVersionID != v1 {
		t.Fatalf("after the failed retire: prev %q retiring %q", k.PrevSecretVersionID, k.RetiringSecretVersionID)
	}
	if ids := e.due(); len(ids) != 1 {
		t.Fatalf("due %v, want the key", ids)
	}
	st = e.run()
	if st.Retired != 1 {
		t.Errorf("stats %+v", st)
	}
	if k := e.get(id); k.RetiringSecretVersionID != "" {
		t.Errorf("retiring %q after the second run", k.RetiringSecretVersionID)
	}
	if ids := e.due(); len(ids) != 0 {
		t.Errorf("still due: %v", ids)
	}
}

func TestRotationDueOncePerSecret(t *testing.T) {
	e := newEnv(t)
	id, _ := e.create(keyOpts{rotationDays: 30})
	e.clock.Advance(29 * day)
	e.run()
	e.wantEvents(id, nil)
	e.clock.Advance(day)
	for range 3 {
		e.run()
		e.clock.Advance(10 * day)
	}
	e.wantEvents(id, map[string]int{outbox.EventRotationDue: 1})
	if k := e.get(id); k.RotationNoticeVersion != 1 {
		t.Errorf("notice recorded for version %d", k.RotationNoticeVersion)
	}

	// A reset starts the period again for the new secret.
	if _, err := e.svc.Reset(e.ctx, e.actor, id, 0); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(29 * day)
	e.run()
	e.wantEvents(id, map[string]int{outbox.EventRotationDue: 1, outbox.EventKeyReset: 1})
	e.clock.Advance(day)
	e.run()
	e.run()
	e.wantEvents(id, map[string]int{outbox.EventRotationDue: 2, outbox.EventKeyReset: 1})
	if k := e.get(id); k.RotationNoticeVersion != 2 {
		t.Errorf("notice recorded for version %d", k.RotationNoticeVersion)
	}
}

// manyKeys creates n keys with a bit of everything due after advance, and
// renews the env's context.
func manyKeys(e *env, n int) []string {
	var ids []string
	for i := range n {
		var id string
		switch i % 3 {
		case 0:
			id, _ = e.create(keyOpts{expiresIn: day})
		case 1:
			id, _ = e.create(keyOpts{expiresIn: 5 * day, rotationDays: 1})
		default:
			id, _ = e.create(keyOpts{rotationDays: 1})
			if _, err := e.svc.Reset(e.ctx, e.actor, id, time.Hour); err != nil {
				e.t.Fatal(err)
			}
		}
		ids = append(ids, id)
	}
	e.clock.Advance(2 * day)
	// What follows gets a minute of its own: on a loaded machine the
	// set-up alone can take most of the first (DynamoDB Local and the
	// local Secrets Manager answer several times slower), and runs that
	// close to the deadline stop early (StopMargin), leaving keys due.
	e.ctx = testenv.Context(e.t)
	return ids
}

// wantAllDone checks that every key got each of its events exactly once.
func wantAllDone(e *env, ids []string) {
	e.t.Helper()
	for i, id := range ids {
		switch i % 3 {
		case 0: // expired before any run: no late reminder
			e.wantEvents(id, map[string]int{outbox.EventKeyExpired: 1})
		case 1:
			e.wantEvents(id, map[string]int{outbox.EventKeyExpiring: 1, outbox.EventRotationDue: 1})
		default:
			e.wantEvents(id, map[string]int{outbox.EventRotationDue: 1, outbox.EventKeyReset: 1})
			if k := e.get(id); k.PrevSecretVersionID != "" || k.RetiringSecretVersionID != "" {
				e.t.Errorf("%s: previous secret left: %q %q", id, k.PrevSecretVersionID, k.RetiringSecretVersionID)
			}
		}
	}
	if due := e.due(); len(due) != 0 {
		e.t.Errorf("still due: %v", due)
	}
}

func TestConcurrentRunsWriteEachEventOnce(t *testing.T) {
	e := newEnv(t)
	ids := manyKeys(e, 24)
	var wg sync.WaitGroup
	stats := make([]rotate.Stats, 4)
	for i := range stats {
		wg.Add(1)
		go func() {
			defer wg.Done()
			j := e.job()
			j.PageSize, j.Workers = 5, 3
			st, err := j.Run(e.ctx)
			if err != nil {
				t.Errorf("run %d: %v", i, err)
			}
			stats[i] = st
		}()
	}
	wg.Wait()
	events, stale := 0, 0
	for i, st := range stats {
		if st.Stopped {
			t.Fatalf("run %d was cut off by the test's deadline after %v, leaving keys due: the local stack answered too slowly here to tell whether each event is written once (%+v)", i, st.Duration, st)
		}
	}
	for _, st := range stats {
		events += st.Events
		stale += st.Stale + st.Skipped
	}
	t.Logf("4 runs: %d events, %d lost races or keys found already done", events, stale)
	// 8 keys × 1 + 8 × 2 + 8 × 1 (the reset's event is not the job's).
	if events != 32 {
		t.Errorf("runs wrote %d events in all, want 32: %+v", events, stats)
	}
	e.ctx = testenv.Context(t) // the check's own minute, as the runs had theirs
	wantAllDone(e, ids)
}

// TestCutOffRunResumes: a run whose context ends once it has handled its
// first page leaves the rest due, and the next run finishes without
// repeating an event.
func TestCutOffRunResumes(t *testing.T) {
	e := newEnv(t)
	ids := manyKeys(e, 12)
	ctx, cancel := context.WithCancel(e.ctx)
	j := e.job()
	j.PageSize, j.Workers = 3, 1
	j.Store = &cancelAfterPages{Store: e.store, pages: 2, cancel: cancel}
	st, err := j.Run(ctx)
	if !errors.Is(err, context.Canceled) || !st.Stopped {
		t.Fatalf("cut-off run: %v, %+v", err, st)
	}
	if st.Pages != 2 || st.Keys != 3 {
		t.Errorf("cut-off run: %+v, want the first page's 3 keys handled", st)
	}
	if left := e.due(); len(left) < len(ids)-3 {
		t.Errorf("%d keys left due, want at least %d", len(left), len(ids)-3)
	}
	e.run()
	wantAllDone(e, ids)
}

// TestFaultMidRunResumes: a DynamoDB failure in the middle of a run fails
// some keys; they stay due and the next run completes them.
func TestFaultMidRunResumes(t *testing.T) {
	e := newEnv(t)
	ids := manyKeys(e, 12)
	e.ddb.FailNth("TransactWriteItems", 4)
	e.ddb.FailNth("GetItem", 7)
	j := e.job()
	j.PageSize, j.Workers = 4, 2
	st, err := j.Run(e.ctx)
	if err == nil || st.Failed == 0 {
		t.Fatalf("run with faults: %v, %+v", err, st)
	}
	e.ddb.Reset()
	e.run()
	wantAllDone(e, ids)
}

// TestStopsBeforeDeadline: with less time left than the margin, a run
// starts nothing and says so.
func TestStopsBeforeDeadline(t *testing.T) {
	e := newEnv(t)
	ids := manyKeys(e, 3)
	ctx, cancel := context.WithTimeout(e.ctx, 10*time.Second)
	defer cancel()
	j := e.job()
	j.StopMargin = 30 * time.Second
	st, err := j.Run(ctx)
	if err != nil || !st.Stopped || st.Keys != 0 {
		t.Errorf("run: %v, %+v", err, st)
	}
	if left := e.due(); len(left) != len(ids) {
		t.Errorf("%d due, want %d", len(left), len(ids))
	}
}

func TestOverlapsHook(t *testing.T) {
	e := newEnv(t)
	j := e.job()
	h := &overlaps{n: 2}
	j.Overlaps = h
	st, err := j.Run(e.ctx)
	if err != nil || st.Overlaps != 2 || !h.now.Equal(e.clock.Now()) {
		t.Errorf("run: %v, %+v, hook saw %v", err, st, h.now)
	}
	h.err = errors.New("boom")
	if _, err := j.Run(e.ctx); err == nil {
		t.Error("a failing hook went unnoticed")
	}
}

type overlaps struct {
	n   int
	err error
	now time.Time
}

func (o *overlaps) CloseEndedOverlaps(_ context.Context, now time.Time) (int, error) {
	o.now = now
	return o.n, o.err
}

// cancelAfterPages cancels the run's context as it reads its pages-th page.
type cancelAfterPages struct {
	*store.Store
	mu     sync.Mutex
	pages  int
	cancel context.CancelFunc
}

func (c *cancelAfterPages) DueKeys(ctx context.Context, now time.Time, cursor string, limit int) ([]store.DueKey, string, error) {
	page, next, err := c.Store.DueKeys(ctx, now, cursor, limit)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pages--; c.pages == 0 {
		c.cancel()
	}
	return page, next, err
}
