package app_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/paykeys/paykeys/internal/cfn"
	"github.com/paykeys/paykeys/internal/secret"
	"github.com/paykeys/paykeys/internal/store"
)

// What each function's code uses, as IAM sees it: "action resource" or
// "action resource partitions" (dynamodb:LeadingKeys patterns, comma
// separated, when the grant is limited to some partitions). Resources are
// table, table/index/<name>, and secret:<folder>* for a folder of the
// secret prefix. Keep this next to the code: a store call a function starts
// making needs a line here and a grant in template.yaml, and a grant the
// code no longer needs fails the test until it goes.
//
// Store calls (internal/store) and the actions they need:
//
//	GetKey, GetIdempotency, GetEndpoint, GetDelivery, GetEvent  GetItem
//	CreateKey, UpdateKey         PutItem (key, events, audit, idempotency, feed), UpdateItem (key, count)
//	AttachLastUse                BatchGetItem (USAGE#)
//	ListKeys, ListEndpoints, ListDeliveries, AllEndpoints  Query on gsi1
//	DueKeys, PendingEvents, DueDeliveries, EndedOverlaps   Query on gsi2
//	ListAudit                    Query, BatchGetItem (refusal tallies)
//	ListUsage                    Query (USAGE#)
//	AddUsage, SetLastUsed        ConditionCheckItem (KEY#), UpdateItem (USAGE#)
//	UseNonce                     PutItem (NONCE#)
//	Changes                      Query (FEED)
//	RateLimit                    GetItem, PutItem (RATE#)
//	RecordRefusal                GetItem, UpdateItem (REFUSAL#, REFUSALS#), PutItem (AUDIT#)
//	PutAudit, SaveDelivery, SaveEndpoint, SaveTestEvent, RetryDelivery  PutItem
//	CreateEndpoint               PutItem, UpdateItem (count)
//	DeleteEndpoint               DeleteItem, UpdateItem (count), PutItem (audit)
//	FannedOut                    UpdateItem
//
// Secret store calls (internal/secret), per-key store: Create CreateSecret
// and TagResource; Get GetSecretValue; Stage PutSecretValue; Promote
// DescribeSecret, UpdateSecretVersionStage and ListSecretVersionIds; Retire
// DescribeSecret and UpdateSecretVersionStage; Delete DeleteSecret; List
// ListSecrets (on no resource). Envelope store, on the items of its folder:
// Create and Stage PutItem (and GetItem on a retry); Get GetItem; Versions
// and Delete Query; Promote Query, UpdateItem; Retire and Delete DeleteItem;
// List Query on gsi2; the KEKs GetSecretValue (every seal and open),
// DescribeSecret (List, Rewrap) and UpdateSecretVersionStage (retiring a
// KEK). Each kind of secret is a secret.Chain: new secrets go to the store
// SecretStore names, the other one is still read, and a Stage or Promote
// of a secret still in the other store moves it first (Versions, Get,
// Create, Stage, Delete), so a function that writes secrets uses both
// stores' calls. The lifecycle job moves the rest and re-wraps (Upkeep).
var uses = map[string][]string{
	// POST /v1/keys: idempotency record, create, replay, refusals.
	"Create": {
		"dynamodb:GetItem table", "dynamodb:PutItem table", "dynamodb:UpdateItem table",
		"dynamodb:Query table " + keyCiphertexts, "dynamodb:DeleteItem table " + keyCiphertexts,
		"secretsmanager:CreateSecret " + keySecrets, "secretsmanager:TagResource " + keySecrets,
		"secretsmanager:GetSecretValue " + keySecrets, "secretsmanager:DeleteSecret " + keySecrets,
		"secretsmanager:GetSecretValue " + keyKEKs,
	},
	// Key reads with their last use, changes, revocation, usage, audit log.
	"Keys": {
		"dynamodb:GetItem table", "dynamodb:BatchGetItem table", "dynamodb:PutItem table",
		"dynamodb:UpdateItem table", "dynamodb:Query table", "dynamodb:Query table/index/gsi1",
		"dynamodb:DeleteItem table " + keyCiphertexts,
		"secretsmanager:DeleteSecret " + keySecrets,
	},
	"Reset": {
		"dynamodb:GetItem table", "dynamodb:BatchGetItem table", "dynamodb:PutItem table", "dynamodb:UpdateItem table",
		"dynamodb:Query table " + keyCiphertexts, "dynamodb:DeleteItem table " + keyCiphertexts,
		"secretsmanager:PutSecretValue " + keySecrets, "secretsmanager:UpdateSecretVersionStage " + keySecrets,
		"secretsmanager:DescribeSecret " + keySecrets, "secretsmanager:ListSecretVersionIds " + keySecrets,
		"secretsmanager:GetSecretValue " + keySecrets, "secretsmanager:CreateSecret " + keySecrets,
		"secretsmanager:TagResource " + keySecrets, "secretsmanager:DeleteSecret " + keySecrets,
		"secretsmanager:GetSecretValue " + keyKEKs,
	},
	// Bearer decisions (the hash is in the key item: no secret read), the
	// per-key rate limit, usage counts and the change feed.
	"Verify": {
		"dynamodb:GetItem table " + keyItems + "," + rateItems,
		"dynamodb:ConditionCheckItem table " + keyItems,
		"dynamodb:PutItem table " + rateItems,
		"dynamodb:BatchGetItem table " + usageItems,
		"dynamodb:UpdateItem table " + usageItems,
		"dynamodb:Query table " + store.FeedPartition,
	},
	"Webhooks": {
		"dynamodb:GetItem table", "dynamodb:PutItem table", "dynamodb:UpdateItem table", "dynamodb:DeleteItem table",
		"dynamodb:Query table/index/gsi1", "dynamodb:Query table " + webhookCiphertexts,
		"secretsmanager:GetSecretValue " + webhookKEKs,
		"secretsmanager:CreateSecret " + webhookSecrets, "secretsmanager:TagResource " + webhookSecrets,
		"secretsmanager:PutSecretValue " + webhookSecrets, "secretsmanager:UpdateSecretVersionStage " + webhookSecrets,
		"secretsmanager:DescribeSecret " + webhookSecrets, "secretsmanager:ListSecretVersionIds " + webhookSecrets,
		"secretsmanager:GetSecretValue " + webhookSecrets, "secretsmanager:DeleteSecret " + webhookSecrets,
	},
	"Webhook": {
		"dynamodb:GetItem table", "dynamodb:PutItem table", "dynamodb:UpdateItem table",
		"dynamodb:Query table/index/gsi1", "dynamodb:Query table/index/gsi2",
		"secretsmanager:GetSecretValue " + webhookSecrets, "secretsmanager:GetSecretValue " + webhookKEKs,
	},
	// Expiry, notices and end of grace (key secrets' labels), each change's
	// events carrying the key's last use; end of signing secrets' overlaps
	// (webhooksvc.CloseEndedOverlaps, Promote); the secret stores' upkeep
	// (secret.Chains: moving secrets between stores, rotating KEKs,
	// re-wrapping, retiring KEKs); the orphan secret sweep (ListSecrets or
	// Query on gsi2, key and endpoint reads, DeleteSecret or Query and
	// DeleteItem, its place in a JOB# item: GetItem, PutItem).
	"Rotate": append(append([]string{
		"dynamodb:GetItem table", "dynamodb:BatchGetItem table", "dynamodb:PutItem table", "dynamodb:UpdateItem table",
		"dynamodb:Query table/index/gsi2",
		"dynamodb:Query table " + keyCiphertexts + "," + webhookCiphertexts,
		"dynamodb:DeleteItem table " + keyCiphertexts + "," + webhookCiphertexts,
		"secretsmanager:ListSecrets *",
	}, secretsEverything(keySecrets, webhookSecrets)...), kekUpkeep(keyKEKs, webhookKEKs)...),
	// Key reads, nonces, usage and last use, the change feed; key secrets
	// for HMAC.
	"Authorize": {
		"dynamodb:GetItem table " + keyItems,
		"dynamodb:ConditionCheckItem table " + keyItems,
		"dynamodb:PutItem table " + store.NoncePartitionPrefix + "*",
		"dynamodb:UpdateItem table " + usageItems,
		"dynamodb:Query table " + store.FeedPartition,
		"dynamodb:GetItem table " + keyCiphertexts,
		"secretsmanager:GetSecretValue " + keySecrets, "secretsmanager:GetSecretValue " + keyKEKs,
	},
	// The example backend, the portal's pages and the Cognito claims
	// trigger read and write nothing of ours.
	"Demo": {}, "Portal": {}, "Claims": {},
}

var (
	keySecrets     = "secret:" + secret.KeysDir + "*"
	webhookSecrets = "secret:" + secret.WebhooksDir + "*"
	// The envelope store's ciphertext items of each folder, and the KEK
	// secrets of each kind (KeyEncryptionKeys, WebhookEncryptionKeys).
	keyCiphertexts     = "SECRET#${SecretPrefix}" + secret.KeysDir + "*"
	webhookCiphertexts = "SECRET#${SecretPrefix}" + secret.WebhooksDir + "*"
	keyKEKs            = "kek:keys"
	webhookKEKs        = "kek:webhooks"
	keyItems           = store.KeyPartitionPrefix + "*"
	usageItems         = store.UsagePartitionPrefix + "*"
	rateItems          = "RATE#*"
)

// secretsEverything is every per-key store call on the folders.
func secretsEverything(folders ...string) []string {
	var out []string
	for _, f := range folders {
		for _, a := range []string{"CreateSecret", "TagResource", "GetSecretValue", "PutSecretValue",
			"UpdateSecretVersionStage", "DescribeSecret", "ListSecretVersionIds", "DeleteSecret"} {
			out = append(out, "secretsmanager:"+a+" "+f)
		}
	}
	return out
}

// kekUpkeep is what rotating KEKs (Chains.RotateKEK: PutSecretValue, and
// ListSecretVersionIds for a KEK's age), re-wrapping and retiring them (the
// rotation's age again) uses of the KEK secrets.
func kekUpkeep(keks ...string) []string {
	var out []string
	for _, k := range keks {
		for _, a := range []string{"GetSecretValue", "DescribeSecret", "UpdateSecretVersionStage", "PutSecretValue", "ListSecretVersionIds"} {
			out = append(out, "secretsmanager:"+a+" "+k)
		}
	}
	return out
}

// Grants of the customer-managed KMS key policies, which a function that
// uses the table or the secrets gets when a key is configured.
var (
	tableKeyGrants   = []string{"kms:Decrypt kms:table", "kms:Encrypt kms:table", "kms:GenerateDataKey kms:table"}
	secretsKeyGrants = []string{"kms:Decrypt kms:secrets", "kms:GenerateDataKey kms:secrets"}
)

// Item writes: what could change or remove an item.
var itemWrites = []string{
	"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem",
	"dynamodb:PartiQLInsert", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete",
}

// grant is one action allowed (or denied) on one resource, within the
// partitions named by keys (dynamodb:LeadingKeys patterns; none: any).
type grant struct {
	action, resource string
	keys             []string
}

func (g grant) String() string {
	s := g.action + " " + g.resource
	if len(g.keys) > 0 {
		s += " " + strings.Join(g.keys, ",")
	}
	return s
}

// policies are the Allow and Deny grants of each function's Policies.
type policies struct{ allow, deny []grant }

// templatePolicies reads template.yaml and returns every function's grants,
// by the name of its function (the logical ID without "Function").
func templatePolicies(t *testing.T) map[string]policies {
	t.Helper()
	root, err := cfn.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tpl, _ := cfn.Value(root).(map[string]any)
	resources, _ := tpl["Resources"].(map[string]any)
	out := map[string]policies{}
	for id, r := range resources {
		res, _ := r.(map[string]any)
		if res["Type"] != "AWS::Serverless::Function" {
			continue
		}
		name, ok := strings.CutSuffix(id, "Function")
		if !ok {
			t.Fatalf("function %s: its logical ID does not end in Function", id)
		}
		props, _ := res["Properties"].(map[string]any)
		if _, ok := props["Role"]; ok {
			t.Fatalf("%s: a Role is not read by this test; use Policies", id)
		}
		var p policies
		list, _ := props["Policies"].([]any)
		for _, pol := range list {
			for _, st := range policyStatements(t, id, resources, pol) {
				effect, grants := statementGrants(t, id, st)
				if effect == "Deny" {
					p.deny = append(p.deny, grants...)
				} else {
					p.allow = append(p.allow, grants...)
				}
			}
		}
		out[name] = p
	}
	return out
}

// policyStatements returns the statements of one entry of a function's
// Policies: inline, or a managed policy of the template (by Ref, or by an
// If that names one or nothing).
func policyStatements(t *testing.T, fn string, resources map[string]any, pol any) []any {
	t.Helper()
	m, _ := pol.(map[string]any)
	if cond, ok := m["Fn::If"].([]any); ok && len(cond) == 3 {
		var out []any
		for _, branch := range cond[1:] {
			if b, _ := branch.(map[string]any); b["Ref"] != "AWS::NoValue" {
				out = append(out, policyStatements(t, fn, resources, branch)...)
			}
		}
		return out
	}
	if ref, ok := m["Ref"].(string); ok {
		res, _ := resources[ref].(map[string]any)
		if res["Type"] != "AWS::IAM::ManagedPolicy" {
			t.Fatalf("%s: policy %s is not a managed policy of the template", fn, ref)
		}
		props, _ := res["Properties"].(map[string]any)
		m, _ = props["PolicyDocument"].(map[string]any)
	}
	st, ok := m["Statement"].([]any)
	if !ok {
		t.Fatalf("%s: policy %v is neither a statement list nor a managed policy of the template", fn, pol)
	}
	return st
}

// statementGrants expands one statement into its grants. A statement this
// test cannot read fails the test rather than being left out.
func statementGrants(t *testing.T, fn string, st any) (effect string, grants []grant) {
	t.Helper()
	m, _ := st.(map[string]any)
	effect, _ = m["Effect"].(string)
	if effect != "Allow" && effect != "Deny" {
		t.Fatalf("%s: statement %v has effect %q", fn, st, effect)
	}
	for _, k := range []string{"NotAction", "NotResource", "Principal"} {
		if _, ok := m[k]; ok {
			t.Fatalf("%s: statement %v has %s", fn, st, k)
		}
	}
	actions := strings.Fields(fmt.Sprint(m["Action"]))
	for i, a := range actions {
		actions[i] = strings.Trim(a, "[]")
		if strings.Contains(actions[i], "*") {
			t.Fatalf("%s: action %s has a wildcard", fn, a)
		}
	}
	var resources []string
	switch r := m["Resource"].(type) {
	case []any:
		for _, x := range r {
			resources = append(resources, resourceName(t, fn, x))
		}
	default:
		resources = append(resources, resourceName(t, fn, r))
	}
	keys := leadingKeys(t, fn, effect, m["Condition"])
	for _, a := range actions {
		for _, r := range resources {
			grants = append(grants, grant{action: a, resource: r, keys: keys})
		}
	}
	return effect, grants
}

// resourceName names a resource of the template: table, table/index/<name>,
// secret:<folder>*, kek:keys or kek:webhooks, kms:table or kms:secrets, or
// * (for the one action that takes no resource).
func resourceName(t *testing.T, fn string, r any) string {
	t.Helper()
	m, _ := r.(map[string]any)
	switch {
	case m["Fn::GetAtt"] == "Table.Arn":
		return "table"
	case m["Ref"] == "TableKmsKeyArn":
		return "kms:table"
	case m["Ref"] == "SecretsKmsKeyArn":
		return "kms:secrets"
	case m["Ref"] == "KeyEncryptionKeys":
		return keyKEKs
	case m["Ref"] == "WebhookEncryptionKeys":
		return webhookKEKs
	case r == "*":
		return "*"
	}
	if sub, ok := m["Fn::Sub"].(string); ok {
		if index, ok := strings.CutPrefix(sub, "${Table.Arn}/index/"); ok && !strings.Contains(index, "*") {
			return "table/index/" + index
		}
		const secretARN = "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretPrefix}"
		if folder, ok := strings.CutPrefix(sub, secretARN); ok {
			return "secret:" + folder
		}
	}
	t.Fatalf("%s: resource %v is none this test knows", fn, r)
	return ""
}

// leadingKeys reads a statement's condition: none, a limit to partitions
// (ForAllValues:StringLike on an Allow, ForAnyValue:StringLike on a Deny),
// or the one service a KMS key is used through.
func leadingKeys(t *testing.T, fn, effect string, cond any) []string {
	t.Helper()
	if cond == nil {
		return nil
	}
	m, _ := cond.(map[string]any)
	op := "ForAllValues:StringLike"
	if effect == "Deny" {
		op = "ForAnyValue:StringLike"
	}
	if len(m) == 1 {
		if c, ok := m[op].(map[string]any); ok && len(c) == 1 {
			if l, ok := c["dynamodb:LeadingKeys"].([]any); ok && len(l) > 0 {
				keys := make([]string, len(l))
				for i, k := range l {
					keys[i] = fmt.Sprint(k)
					if m, ok := k.(map[string]any); ok {
						sub, _ := m["Fn::Sub"].(string)
						keys[i] = sub // ${SecretPrefix} is kept as written
					}
				}
				return keys
			}
		}
		if c, ok := m["StringEquals"].(map[string]any); ok && len(c) == 1 && c["kms:ViaService"] != nil {
			return nil
		}
	}
	t.Fatalf("%s: condition %v is none this test knows", fn, cond)
	return nil
}

// matches reports whether an IAM StringLike pattern matches s.
func matches(pattern, s string) bool {
	re := "^" + strings.ReplaceAll(strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, ".*"), `\?`, ".") + "$"
	return regexp.MustCompile(re).MatchString(s)
}

// reaches reports whether g allows its action on an item of partition pk.
func (g grant) reaches(pk string) bool {
	if g.resource != "table" {
		return false
	}
	if len(g.keys) == 0 {
		return true
	}
	for _, k := range g.keys {
		if matches(k, pk) {
			return true
		}
	}
	return false
}

// Sample partition keys of the items the tests below protect.
var (
	keyPK   = store.KeyPartitionPrefix + "ck_live_3xAmpLe"
	auditPK = store.AuditPartitionPrefix + "m_1"
)

// Every function's policy grants exactly what its code uses: no action or
// resource more, none less.
func TestFunctionPoliciesAreLeastPrivilege(t *testing.T) {
	got := templatePolicies(t)
	for name := range got {
		if _, ok := uses[name]; !ok {
			t.Errorf("template.yaml has function %sFunction, which the table of uses does not", name)
		}
	}
	for name, want := range uses {
		p, ok := got[name]
		if !ok {
			t.Errorf("function %sFunction is not in template.yaml", name)
			continue
		}
		want = slices.Clone(want)
		if slices.ContainsFunc(want, func(g string) bool { return strings.HasPrefix(g, "dynamodb:") }) {
			want = append(want, tableKeyGrants...)
		}
		if slices.ContainsFunc(want, func(g string) bool { return strings.HasPrefix(g, "secretsmanager:") }) {
			want = append(want, secretsKeyGrants...)
		}
		var have []string
		for _, g := range p.allow {
			have = append(have, g.String())
		}
		slices.Sort(want)
		slices.Sort(have)
		have = slices.Compact(have)
		for _, g := range have {
			if !slices.Contains(want, g) {
				t.Errorf("%sFunction may %s, which its code does not use", name, g)
			}
		}
		for _, g := range want {
			if !slices.Contains(have, g) {
				t.Errorf("%sFunction uses %s, which its policy does not grant", name, g)
			}
		}
	}
}

// The internet-facing authorizer writes nonces, usage days and last uses
// only: never a key item, an audit record or anything else, and it reads
// key secrets, never webhook signing secrets. The same holds for verify.
func TestAuthorizerCannotWriteKeyItems(t *testing.T) {
	got := templatePolicies(t)
	for _, name := range []string{"Authorize", "Verify"} {
		for _, g := range got[name].allow {
			if slices.Contains(itemWrites, g.action) {
				if len(g.keys) == 0 {
					t.Errorf("%sFunction may %s on every partition", name, g)
				}
				for _, pk := range []string{keyPK, auditPK, "WEBHOOK#we_1", "EVENT#evt_1", "FEED", "MERCHANT#m_1#COUNT", "IDEM#m_1#x"} {
					if g.reaches(pk) {
						t.Errorf("%sFunction may write %s through %s", name, pk, g)
					}
				}
			}
			if strings.HasPrefix(g.resource, "secret:") && g.resource != keySecrets {
				t.Errorf("%sFunction may use %s", name, g)
			}
		}
	}
	// The authorizer's writes reach the items it needs to write, so the
	// limits above are not vacuous.
	for _, pk := range []string{store.NoncePartitionPrefix + "ck_1#n", store.UsagePartitionPrefix + "ck_1"} {
		if !slices.ContainsFunc(got["Authorize"].allow, func(g grant) bool {
			return slices.Contains(itemWrites, g.action) && g.reaches(pk)
		}) {
			t.Errorf("the authorizer may not write %s", pk)
		}
	}
}

// No function can update or delete an audit record: every grant of an
// update or a delete that could reach one is denied on the audit partitions.
func TestNoFunctionCanChangeAuditRecords(t *testing.T) {
	got := templatePolicies(t)
	for name, p := range got {
		for _, g := range p.allow {
			switch g.action {
			case "dynamodb:BatchWriteItem", "dynamodb:PartiQLUpdate", "dynamodb:PartiQLDelete":
				t.Errorf("%sFunction may %s, which can change any item", name, g)
			case "dynamodb:UpdateItem", "dynamodb:DeleteItem":
				if !g.reaches(auditPK) {
					continue
				}
				if !slices.ContainsFunc(p.deny, func(d grant) bool {
					return d.action == g.action && len(d.keys) > 0 && d.reaches(auditPK)
				}) {
					t.Errorf("%sFunction may %s on audit records (%s)", name, g, auditPK)
				}
			}
		}
	}
	// A function that may change items but not audit records still may
	// change its other items: the deny is no wider than the audit log.
	for _, d := range got["Keys"].deny {
		if d.reaches(keyPK) || d.reaches("MERCHANT#m_1#COUNT") {
			t.Errorf("the audit deny %s reaches other items", d)
		}
	}
}

// Key secrets and webhook signing secrets are apart: the functions that
// manage keys (create, keys, reset) and the authorizer cannot touch a
// signing secret, delete one included, nor read the KEKs that open a
// signing secret's ciphertext; the webhook functions cannot do either to a
// key secret. (Management functions may read any item of the table, so it
// is the KEKs that keep the other kind's ciphertexts closed to them.)
func TestSecretFoldersAreApart(t *testing.T) {
	got := templatePolicies(t)
	type kind struct{ folder, keks, items string }
	keys := kind{keySecrets, keyKEKs, keyCiphertexts}
	hooks := kind{webhookSecrets, webhookKEKs, webhookCiphertexts}
	for name, k := range map[string]kind{
		"Create": keys, "Keys": keys, "Reset": keys, "Authorize": keys,
		"Webhooks": hooks, "Webhook": hooks, "Verify": {}, "Demo": {},
	} {
		for _, g := range got[name].allow {
			switch {
			case strings.HasPrefix(g.resource, "secret:") && g.resource != k.folder,
				strings.HasPrefix(g.resource, "kek:") && g.resource != k.keks,
				slices.ContainsFunc(g.keys, func(p string) bool { return strings.HasPrefix(p, "SECRET#") && p != k.items }):
				t.Errorf("%sFunction may %s", name, g)
			}
		}
	}
	// Only the lifecycle job, which moves and re-wraps both kinds, holds
	// both kinds' KEKs.
	for name, p := range got {
		held := map[string]bool{}
		for _, g := range p.allow {
			if strings.HasPrefix(g.resource, "kek:") {
				held[g.resource] = true
			}
		}
		if len(held) > 1 && name != "Rotate" {
			t.Errorf("%sFunction may read both kinds' KEKs", name)
		}
	}
}
