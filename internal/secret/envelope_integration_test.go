//go:build integration

package secret_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/testenv"
)

// envStack is an envelope store on a table and KEK secret of the test's own.
type envStack struct {
	env   *secret.Envelope
	db    *dynamodb.Client
	sm    *secretsmanager.Client
	table string
}

func newEnvelope(t *testing.T) envStack {
	t.Helper()
	ctx := testenv.Context(t)
	db, sm := testenv.Dynamo(t), testenv.Secrets(t)
	table := testenv.UniqueName(t, "env")
	if err := store.CreateTable(ctx, db, table); err != nil {
		t.Fatalf("create table: %v", err)
	}
	kek := testenv.UniqueName(t, "kek")
	t.Cleanup(func() {
		_, _ = sm.DeleteSecret(context.Background(), &secretsmanager.DeleteSecretInput{SecretId: aws.String(kek), ForceDeleteWithoutRecovery: aws.Bool(true)})
	})
	return envStack{env: secret.NewEnvelope(db, table, "paykeys/", secret.NewKeyring(sm, kek)), db: db, sm: sm, table: table}
}

// item reads a version's raw item.
func (s envStack) item(t *testing.T, name, version string) map[string]types.AttributeValue {
	t.Helper()
	out, err := s.db.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(s.table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "SECRET#paykeys/" + name},
			"sk": &types.AttributeValueMemberS{Value: "V#" + version},
		}})
	if err != nil || out.Item == nil {
		t.Fatalf("read item %s %s: %v (found %v)", name, version, err, out != nil && out.Item != nil)
	}
	return out.Item
}

func TestEnvelopeStoresOnlyCiphertext(t *testing.T) {
	ctx := testenv.Context(t)
	s := newEnvelope(t)
	id, v1, v2 := "ck_test_"+uuid(t)[:8], uuid(t), uuid(t)
	const val1, val2 = "paykeys_sk_test_first-value", "paykeys_sk_test_second-value"
	if err := s.env.Create(ctx, id, v1, val1); err != nil {
		t.Fatal(err)
	}
	if err := s.env.Create(ctx, id, v1, val1); err != nil {
		t.Fatalf("retried create: %v", err)
	}
	if err := s.env.Create(ctx, id, v1, "another"+val1); !errors.Is(err, secret.ErrExists) {
		t.Fatalf("create of the same version with another value = %v, want ErrExists", err)
	}
	for attr, v := range s.item(t, id, v1) {
		if b, ok := v.(*types.AttributeValueMemberB); ok && bytes.Contains(b.Value, []byte(val1)) {
			t.Errorf("attribute %s holds the plaintext", attr)
		}
		if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, val1) {
			t.Errorf("attribute %s holds the plaintext", attr)
		}
	}
	if err := s.env.Stage(ctx, id, v2, val2); err != nil {
		t.Fatal(err)
	}
	if err := s.env.Promote(ctx, id, v2, v1); err != nil {
		t.Fatal(err)
	}
	got, err := s.env.Versions(ctx, id)
	if want := map[string][]string{v1: {secret.StagePrevious}, v2: {secret.StageCurrent}}; err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Versions = %v, %v; want %v", got, err, want)
	}
	for v, want := range map[string]string{v1: val1, v2: val2} {
		if got, err := s.env.Get(ctx, id, v); err != nil || got != want {
			t.Errorf("Get %s: %v", v, err)
		}
	}
	if err := s.env.Promote(ctx, id, v2, uuid(t)); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Promote naming a missing version = %v, want ErrNotFound", err)
	}
	if err := s.env.Retire(ctx, id, v1, v2); err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Get(ctx, id, v1); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get of a retired version = %v, want ErrNotFound (the envelope store destroys it)", err)
	}
	if err := s.env.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Get(ctx, id, v2); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Get after Delete = %v, want ErrNotFound", err)
	}
	if _, err := s.env.Versions(ctx, id); !errors.Is(err, secret.ErrNotFound) {
		t.Errorf("Versions after Delete = %v, want ErrNotFound", err)
	}
}

// A ciphertext copied into another key's item, or another version's, does
// not decrypt: the associated data binds it to its name and version.
func TestEnvelopeMovedCiphertextFails(t *testing.T) {
	ctx := testenv.Context(t)
	s := newEnvelope(t)
	a, b := "ck_test_"+uuid(t)[:8], "ck_test_"+uuid(t)[:8]
	va, vb, vb2 := uuid(t), uuid(t), uuid(t)
	for _, c := range []struct{ id, v, val string }{{a, va, "secret-of-a"}, {b, vb, "secret-of-b"}, {b, vb2, "second-of-b"}} {
		if err := s.env.Stage(ctx, c.id, c.v, c.val); err != nil {
			t.Fatal(err)
		}
	}
	src := s.item(t, a, va)
	for _, c := range []struct{ name, id, v string }{{"another key", b, vb}, {"another version of the same key", a, vb2}} {
		t.Run(c.name, func(t *testing.T) {
			if c.id == a { // give a a second version to overwrite
				if err := s.env.Stage(ctx, a, c.v, "other-version-of-a"); err != nil {
					t.Fatal(err)
				}
			}
			_, err := s.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                 aws.String(s.table),
				Key:                       map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "SECRET#paykeys/" + c.id}, "sk": &types.AttributeValueMemberS{Value: "V#" + c.v}},
				UpdateExpression:          aws.String("SET ct = :ct, kek = :k"),
				ExpressionAttributeValues: map[string]types.AttributeValue{":ct": src["ct"], ":k": src["kek"]},
			})
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.env.Get(ctx, c.id, c.v)
			if !errors.Is(err, secret.ErrDecrypt) || got != "" {
				t.Fatalf("Get of a moved ciphertext = %q, %v; want ErrDecrypt and no value", got, err)
			}
			if got, err := s.env.Get(ctx, a, va); err != nil || got != "secret-of-a" {
				t.Fatalf("the original still decrypts: %q, %v", got, err)
			}
		})
	}
}

// A KEK rotation encrypts new secrets under the new KEK at once; re-wrapping
// in pages moves every old ciphertext to it, every secret still reads the
// same, and only then is the old KEK retired and another rotation allowed.
func TestEnvelopeKEKRotationAndRewrap(t *testing.T) {
	ctx := testenv.Context(t)
	s := newEnvelope(t)
	keks := s.env.Keyring()
	want := map[[2]string]string{}
	for i := range 25 {
		id, v := "ck_test_"+uuid(t)[:8], uuid(t)
		want[[2]string{id, v}] = fmt.Sprintf("value-%d", i)
		if err := s.env.Create(ctx, id, v, want[[2]string{id, v}]); err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 { // a second version under the same KEK
			v2 := uuid(t)
			want[[2]string{id, v2}] = fmt.Sprintf("value-%d-b", i)
			if err := s.env.Stage(ctx, id, v2, want[[2]string{id, v2}]); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Each step from here gets a minute of its own (a fresh ctx, which
	// checkAll uses too): the test reads every secret six times, and on a
	// loaded machine, where DynamoDB Local and the local Secrets Manager
	// answer many times slower, the whole of it took over 72 s (load
	// 22-27); a hung stack still fails within a minute of the step it hung
	// in.
	ctx = testenv.Context(t)
	old, _, err := keks.Current(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := s.env.Rewrap(ctx, 100, 0); err != nil || st.Rewrapped != 0 || st.Retired {
		t.Fatalf("Rewrap with no rotation = %+v, %v; want nothing done", st, err)
	}
	cur, err := keks.Rotate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keks.Rotate(ctx); !errors.Is(err, secret.ErrRewrapPending) {
		t.Fatalf("second rotation before re-wrap = %v, want ErrRewrapPending", err)
	}
	// New secrets use the new KEK at once.
	nid, nv := "ck_test_"+uuid(t)[:8], uuid(t)
	want[[2]string{nid, nv}] = "after-rotation"
	if err := s.env.Create(ctx, nid, nv, "after-rotation"); err != nil {
		t.Fatal(err)
	}
	if k := s.item(t, nid, nv)["kek"].(*types.AttributeValueMemberS).Value; k != cur {
		t.Fatalf("a secret created after the rotation is under KEK %s, want the new %s", k, cur)
	}
	checkAll := func(stage string) {
		t.Helper()
		for k, v := range want {
			if got, err := s.env.Get(ctx, k[0], k[1]); err != nil || got != v {
				t.Fatalf("%s: Get %s/%s = %q, %v; want %q", stage, k[0], k[1], got, err, v)
			}
		}
	}
	checkAll("after rotation")
	// Re-wrap in pages of 10: a run cut off resumes with the next.
	total, runs := 0, 0
	for {
		runs++
		if runs > 10 {
			t.Fatal("re-wrap did not finish in 10 runs")
		}
		ctx = testenv.Context(t)
		st, err := s.env.Rewrap(ctx, 10, 0)
		if err != nil {
			t.Fatalf("Rewrap: %v", err)
		}
		if st.From != old || st.To != cur || st.Rewrapped > 10 {
			t.Fatalf("Rewrap = %+v; want from %s to %s, at most 10", st, old, cur)
		}
		total += st.Rewrapped
		checkAll(fmt.Sprintf("after re-wrap run %d", runs))
		if st.Retired {
			break
		}
	}
	if total != 30 {
		t.Errorf("re-wrapped %d ciphertexts, want the 30 made before the rotation", total)
	}
	ctx = testenv.Context(t)
	for k := range want {
		if got := s.item(t, k[0], k[1])["kek"].(*types.AttributeValueMemberS).Value; got != cur {
			t.Errorf("%s/%s still under KEK %s", k[0], k[1], got)
		}
	}
	if p, err := keks.Previous(ctx); err != nil || p != "" {
		t.Fatalf("Previous after retirement = %q, %v; want none", p, err)
	}
	if _, err := keks.Rotate(ctx); err != nil {
		t.Fatalf("rotation after the previous KEK retired: %v", err)
	}
	checkAll("after a second rotation")
}

// Rewrap keeps the previous KEK while the rotation is younger than the margin.
func TestEnvelopeRewrapWaitsForMargin(t *testing.T) {
	ctx := testenv.Context(t)
	s := newEnvelope(t)
	if err := s.env.Create(ctx, "ck_test_"+uuid(t)[:8], uuid(t), "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.Keyring().Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		st, err := s.env.Rewrap(ctx, 100, secret.DefaultRewrapMargin)
		if err != nil || st.Retired {
			t.Fatalf("Rewrap = %+v, %v; want the previous KEK kept within the margin", st, err)
		}
	}
	if p, _ := s.env.Keyring().Previous(ctx); p == "" {
		t.Fatal("the previous KEK was retired within the margin")
	}
}

// TestEnvelopeRewrapBeforeAnyKEK: the lifecycle job's upkeep on a
// deployment that has sealed nothing yet (no KEK secret exists) does
// nothing and fails nothing.
func TestEnvelopeRewrapBeforeAnyKEK(t *testing.T) {
	ctx := testenv.Context(t)
	s := newEnvelope(t)
	st, err := s.env.Rewrap(ctx, 100, 0)
	if err != nil || st != (secret.RewrapStats{}) {
		t.Fatalf("Rewrap with no KEK = %+v, %v; want nothing done and no error", st, err)
	}
	if _, err := s.env.Keyring().Labels(ctx); !errors.Is(err, secret.ErrNotFound) {
		t.Fatalf("Rewrap created the KEK secret (Labels: %v)", err)
	}
}
