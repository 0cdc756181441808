package testenv

import (
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
)

var tableName = regexp.MustCompile(`^[A-Za-z0-9_.-]{3,255}$`)

func TestUniqueName(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
	}{
		{"plain", "paykeys-"},
		{"empty prefix", ""},
		{"prefix with a slash and spaces", "pay keys/"},
		{"very long prefix", strings.Repeat("p", 500)},
		{strings.Repeat("a very long test name with spaces/", 10), "t-"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := UniqueName(t, tt.prefix), UniqueName(t, tt.prefix)
			for _, n := range []string{a, b} {
				if len(n) > MaxNameLen {
					t.Errorf("len(%q) = %d > %d", n, len(n), MaxNameLen)
				}
				if !tableName.MatchString(n) {
					t.Errorf("%q is not a valid DynamoDB table name", n)
				}
				if p := sanitize(tt.prefix); len(p) < 100 && !strings.HasPrefix(n, p) {
					t.Errorf("%q does not start with %q", n, p)
				}
			}
			if a == b {
				t.Errorf("two calls returned the same name %q", a)
			}
		})
	}
}

func TestUniqueNameCarriesTestName(t *testing.T) {
	n := UniqueName(t, "x-")
	if !strings.HasPrefix(n, "x-TestUniqueNameCarriesTestName-") {
		t.Errorf("UniqueName = %q, want the test name after the prefix", n)
	}
}

// fatalTB records Fatalf and stops its goroutine, as testing.T does.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}
func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func runTB(f func(tb testing.TB)) string {
	tb := &fatalTB{}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		f(tb)
	}()
	wg.Wait()
	return tb.msg
}

func TestMissingEndpointFails(t *testing.T) {
	for _, tt := range []struct {
		env string
		fn  func(testing.TB)
	}{
		{DynamoDBEndpointEnv, func(tb testing.TB) { Dynamo(tb) }},
		{SecretsManagerEndpointEnv, func(tb testing.TB) { Secrets(tb) }},
	} {
		t.Run(tt.env, func(t *testing.T) {
			t.Setenv(tt.env, "")
			msg := runTB(tt.fn)
			if !strings.Contains(msg, tt.env) || !strings.Contains(msg, "make test") {
				t.Errorf("failure message %q should name %s and say to run make test", msg, tt.env)
			}
		})
	}
}

func TestUnreachableEndpointFails(t *testing.T) {
	t.Setenv(SecretsManagerEndpointEnv, "http://127.0.0.1:1")
	msg := runTB(func(tb testing.TB) { Secrets(tb) })
	if !strings.Contains(msg, "make test") {
		t.Errorf("failure message %q should say to run make test", msg)
	}
}
