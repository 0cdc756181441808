package main

import (
	"os/exec"
	"strings"
	"testing"
)

// `make token` passes MERCHANT, ROLE and SUB on to the token subcommand, so
// that two portal users of one merchant can be tried without go run.
func TestMakeTokenPassesClaims(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command("make", "-n", "-s", "-C", "../..", "token", "MERCHANT=m_x", "ROLE=viewer", "SUB=user_b")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n token: %v\n%s", err, out)
	}
	var line string
	for l := range strings.SplitSeq(string(out), "\n") {
		if strings.Contains(l, " token ") {
			line = l
		}
	}
	for _, want := range []string{"-merchant='m_x'", "-role='viewer'", "-sub='user_b'"} {
		if !strings.Contains(line, want) {
			t.Errorf("make token runs %q, missing %s", line, want)
		}
	}
}
