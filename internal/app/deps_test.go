package app_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/paykeys/paykeys/"

// goList runs go list from the module's root and returns its output lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// Each function links only what it uses. The lists name packages (or, ending
// in "/", module path prefixes) that must not be among a function's
// dependencies.
func TestFunctionsLinkOnlyWhatTheyUse(t *testing.T) {
	undecided := []string{mod + "internal/usage", mod + "internal/authz", mod + "internal/authorizer"}
	// The full App is the local gateway's; the SDK's config package (shared
	// files, SSO, STS) is for tools: functions read Lambda's environment.
	everyone := []string{mod + "internal/app", "github.com/aws/aws-sdk-go-v2/config", mod + "internal/awsclient"}
	tests := []struct {
		function string
		not      []string
	}{
		{"demo", []string{"github.com/aws/aws-sdk-go-v2/", "github.com/aws/smithy-go/", mod + "internal/store",
			mod + "internal/secret", mod + "internal/usage", mod + "internal/authz", mod + "internal/keysvc"}},
		{"authorize", []string{mod + "internal/api", mod + "internal/delivery", mod + "internal/rotate",
			mod + "internal/webhooksvc", mod + "internal/webhook"}},
		{"verify", []string{mod + "internal/authorizer", mod + "internal/delivery", mod + "internal/rotate"}},
		{"create", undecided},
		{"keys", undecided},
		{"reset", undecided},
		{"webhooks", append(undecided, mod+"internal/rotate")},
		{"webhook", append(undecided, mod+"internal/api", mod+"internal/rotate")},
		{"rotate", append(undecided, mod+"internal/api", mod+"internal/delivery")},
		{"portal", []string{"github.com/aws/aws-sdk-go-v2/", "github.com/aws/smithy-go/", mod + "internal/store",
			mod + "internal/secret", mod + "internal/keysvc", mod + "internal/api", mod + "internal/usage"}},
		{"claims", []string{"github.com/aws/aws-sdk-go-v2/", "github.com/aws/smithy-go/", mod + "internal/store",
			mod + "internal/secret", mod + "internal/keysvc", mod + "internal/api", mod + "internal/usage"}},
	}
	fns := goList(t, "./functions/...")
	if len(fns) != len(tests) {
		t.Errorf("%d functions, %d in this test: add the new one", len(fns), len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.function, func(t *testing.T) {
			deps := goList(t, "-deps", "-tags", "lambda.norpc", "./functions/"+tt.function) // as SAM builds it
			if !slices.Contains(deps, mod+"functions/"+tt.function) {
				t.Fatalf("go list -deps did not list the function itself: %v", deps)
			}
			// The AWS SDK's schema-based serializers build every shape of a
			// service at package init (a few ms and 0.6 MB for DynamoDB, on
			// every cold start) and add 0.3 MB to each binary; go.mod keeps
			// the service modules at their last releases without them.
			for _, d := range deps {
				if strings.HasPrefix(d, "github.com/aws/aws-sdk-go-v2/") && strings.HasSuffix(d, "/schemas") {
					t.Errorf("links %s (the SDK's schema-based serializers; see go.mod)", d)
				}
			}
			for _, not := range append(tt.not, everyone...) {
				for _, d := range deps {
					if d == not || strings.HasSuffix(not, "/") && strings.HasPrefix(d, not) {
						t.Errorf("links %s", d)
						break
					}
				}
			}
			// main imports its constructor and start, nothing else of ours.
			for _, imp := range strings.Fields(goList(t, "-f", `{{join .Imports " "}}`, "./functions/"+tt.function)[0]) {
				if strings.HasPrefix(imp, mod) && !strings.HasPrefix(imp, mod+"internal/app/") {
					t.Errorf("main imports %s; it should call its constructor in internal/app/...", imp)
				}
			}
		})
	}
}

// The edges (api, authorizer, delivery, rotate) are wired by internal/app
// alone: no other package under internal/ imports one.
func TestOnlyAppImportsTheEdges(t *testing.T) {
	edges := []string{mod + "internal/api", mod + "internal/authorizer", mod + "internal/delivery", mod + "internal/rotate"}
	lines := goList(t, "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./internal/...")
	if len(lines) < 10 {
		t.Fatalf("go list found only %d packages", len(lines))
	}
	for _, line := range lines {
		f := strings.Fields(line)
		pkg := f[0]
		if pkg == mod+"internal/app" || strings.HasPrefix(pkg, mod+"internal/app/") {
			continue
		}
		for _, imp := range f[1:] {
			if slices.Contains(edges, imp) {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}
