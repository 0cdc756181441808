//go:build integration

package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/audits"
	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/paykeys/paykeys/internal/testenv"
	"github.com/paykeys/paykeys/internal/webhook"
)

// screenshotDir holds the README's pictures of the portal, which this test
// writes on every run so they never go stale.
const screenshotDir = "../portal-screenshots"

var secretShape = regexp.MustCompile(`^([a-z]{2,16}_)?sk_test_[0-9A-Za-z]+$`)

// chromium finds Debian's Chromium (make tools installs it); without it the
// test fails, it does not skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run make tools (it installs Debian's chromium package)")
	return ""
}

// browserSession is one headless Chromium tab on the portal, with every
// console error and Content-Security-Policy issue it reported.
type browserSession struct {
	t    *testing.T
	ctx  context.Context
	base string

	mu       sync.Mutex
	problems []string
}

func newBrowserSession(t *testing.T, parent context.Context, base string) *browserSession {
	t.Helper()
	alloc, cancelAlloc := chromedp.NewExecAllocator(parent,
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	ctx, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	b := &browserSession{t: t, ctx: ctx, base: base}
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, audits.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm}, Setting: "granted", Origin: base,
		}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	if _, err := chromedp.Call(ctx, emulation.SetFocusEmulationEnabled, emulation.SetFocusEmulationEnabledParams{Enabled: true}); err != nil {
		t.Fatal(err)
	}
	console := chromedp.Console(ctx)
	issues := chromedp.Events(ctx, audits.IssueAdded)
	go func() {
		for m, err := range console {
			if err != nil {
				return
			}
			// The browser logs every answer of 400 or more as an error; the
			// one the test provokes, the verify form's rate limit, is not
			// a fault of the page.
			if m.Source == "network" && strings.Contains(m.Text, "status of 429") && strings.HasSuffix(m.URL, "/verify") {
				continue
			}
			if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
				b.problem("console %s: %s (%s)", m.Type, m.Text, m.URL)
			}
		}
	}()
	go func() {
		for ev, err := range issues {
			if err != nil {
				return
			}
			if ev.Issue != nil && ev.Issue.Details != nil && ev.Issue.Details.ContentSecurityPolicyIssueDetails != nil {
				d := ev.Issue.Details.ContentSecurityPolicyIssueDetails
				b.problem("CSP violation: %s blocked %q", d.ViolatedDirective, d.BlockedURL)
			}
		}
	}()
	return b
}

func (b *browserSession) problem(format string, args ...any) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.problems = append(b.problems, fmt.Sprintf(format, args...))
}

// do runs actions with a time limit, failing the test on error.
func (b *browserSession) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
}

func (b *browserSession) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func evaluate[T any](b *browserSession, expr string, opts ...chromedp.EvaluateOption) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, opts...))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// present says whether sel matches an element now.
func (b *browserSession) present(sel string) bool {
	b.t.Helper()
	return evaluate[bool](b, fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
}

// goTo opens a page of the portal and waits until it has rendered.
func (b *browserSession) goTo(hash string) {
	b.t.Helper()
	b.do("open "+hash, chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector("main").dataset.ready = "";
		if (location.hash === %[1]q) window.dispatchEvent(new HashChangeEvent("hashchange")); else location.hash = %[1]q`, hash)))
	b.do("render "+hash, chromedp.WaitReady(chromedp.CSS(fmt.Sprintf(`main[data-ready=%q]`, hash))))
}

// screenshot writes the whole page as PNG into screenshotDir.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	// The whole page, or, while a modal dialog is open, the window, since
	// the dialog's backdrop covers the window only.
	shot := chromedp.FullScreenshot(100)
	if b.present(`dialog[open]`) {
		shot = chromedp.CaptureScreenshot()
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// signIn uses make dev's development sign-in.
func (b *browserSession) signIn(merchant, role, sub string, shot string) {
	b.t.Helper()
	b.do("open the portal", chromedp.Navigate(b.base+"/portal"), chromedp.WaitVisible(chromedp.CSS("form.dev-signin")))
	b.do("fill sign-in",
		chromedp.SetValue(chromedp.CSS(`input[name=merchant]`), merchant),
		chromedp.SetValue(chromedp.CSS(`select[name=role]`), role),
		chromedp.SetValue(chromedp.CSS(`input[name=sub]`), sub))
	if shot != "" {
		b.screenshot(shot)
	}
	b.do("sign in", chromedp.Click(chromedp.CSS(`form.dev-signin button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-title`)), chromedp.WaitReady(chromedp.CSS(`main[data-ready="#/keys"]`)))
	if got := b.text(`[data-role]`); got != role {
		b.t.Fatalf("signed in as %q, want %q", got, role)
	}
}

// takeSecret reads the secret the dialog shows, copies it with the dialog's
// button, checks the clipboard holds it, checks the dialog cannot be closed
// before the user says they stored it, and confirms. It returns the copied
// value.
func (b *browserSession) takeSecret(shot string) string {
	b.t.Helper()
	b.do("secret dialog", chromedp.WaitVisible(chromedp.CSS(`dialog[data-secret-dialog] #secret-value`)))
	shown := b.text(`#secret-value`)
	if shot != "" {
		b.screenshot(shot)
	}
	b.do("copy", chromedp.Click(chromedp.CSS(`[data-copy]`)), chromedp.WaitVisible(chromedp.CSS(`dialog[data-secret-dialog] .copied`)))
	copied := evaluate[string](b, `navigator.clipboard.readText()`, chromedp.EvalAwaitPromise)
	if copied != shown || copied == "" {
		b.t.Fatalf("the clipboard holds %d characters, the dialog shows %d", len(copied), len(shown))
	}
	if !evaluate[bool](b, `document.querySelector("[data-done]").disabled`) {
		b.t.Error("Done is enabled before the user ticked that they stored the secret")
	}
	b.do("escape", chromedp.KeyEvent(kb.Escape))
	if !b.present(`dialog[data-secret-dialog][open]`) {
		b.t.Fatal("Escape closed the secret dialog before the user confirmed")
	}
	b.do("confirm stored", chromedp.Click(chromedp.CSS(`dialog[data-secret-dialog] input[type=checkbox]`)),
		chromedp.Click(chromedp.CSS(`[data-done]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[data-secret-dialog]`)))
	b.noTrace(copied)
	return copied
}

// noTrace fails if secret is anywhere the page keeps things: the DOM (with
// every form field's value), the address, the history, storage or cookies.
func (b *browserSession) noTrace(secret string) {
	b.t.Helper()
	dump := evaluate[string](b, `JSON.stringify({
		html: document.documentElement.outerHTML,
		values: [...document.querySelectorAll("input, textarea, select")].map((x) => x.value),
		href: location.href, title: document.title,
		local: {...localStorage}, session: {...sessionStorage}, cookie: document.cookie,
	})`)
	if strings.Contains(dump, secret) {
		b.t.Fatal("the secret is still in the page after the dialog closed")
	}
	var empty struct {
		Local, Session map[string]string
		Cookie         string
	}
	if err := json.Unmarshal([]byte(dump), &empty); err != nil || len(empty.Local)+len(empty.Session) > 0 || empty.Cookie != "" {
		b.t.Errorf("the page stored something: %+v %v", empty, err)
	}
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	hist, err := chromedp.Run(ctx, chromedp.NavigationEntries())
	if err != nil {
		b.t.Fatal(err)
	}
	for _, e := range hist.Entries {
		if strings.Contains(e.URL, secret) || strings.Contains(e.Title, secret) {
			b.t.Fatal("the secret is in the history")
		}
	}
}

// confirm accepts the open confirmation dialog, after an optional picture.
func (b *browserSession) confirm(shot string) {
	b.t.Helper()
	b.do("confirmation", chromedp.WaitVisible(chromedp.CSS(`dialog[open] [data-confirm]`)))
	if shot != "" {
		b.screenshot(shot)
	}
	b.do("confirm", chromedp.Click(chromedp.CSS(`dialog[open] [data-confirm]`)), chromedp.WaitNotPresent(chromedp.CSS(`dialog[open] [data-confirm]`)))
}

// verify submits the per-key verify form and returns its verdict.
func (b *browserSession) verify(secret string) string {
	b.t.Helper()
	b.do("verify",
		chromedp.SetValue(chromedp.CSS(`form.verify input[name=secret]`), secret),
		chromedp.Evaluate[chromedp.Void](`document.querySelector("[data-verdict]").dataset.verdict = ""`),
		chromedp.Click(chromedp.CSS(`form.verify button[type=submit]`)),
		chromedp.WaitReady(chromedp.CSS(`[data-verdict]:not([data-verdict=""])`)))
	if v := evaluate[string](b, `document.querySelector("form.verify input[name=secret]").value`); v != "" {
		b.t.Error("the verify form kept the secret in its field")
	}
	return evaluate[string](b, `document.querySelector("[data-verdict]").dataset.verdict`)
}

// TestPortalInBrowser drives the merchant portal in Debian's headless
// Chromium against the gateway with the template's routes, the handlers
// in-process (as make dev INPROCESS=1 runs them) and the local stack: sign-in,
// create and copy a secret, reset with and without grace, verify, disable,
// revoke, webhooks up to a signed test delivery, the audit log, and what a
// viewer and a developer see; no console error and no CSP violation on the
// way. It writes the README's screenshots.
func TestPortalInBrowser(t *testing.T) {
	testenv.Dynamo(t) // fails, not skips, without the local stack
	chromium(t)
	t.Setenv("TEMPLATE", "../../template.yaml")
	t.Setenv("TABLE_NAME", testenv.UniqueName(t, "portal"))
	t.Setenv("SECRET_PREFIX", testenv.UniqueName(t, "portal")+"/")
	t.Setenv("WORKER_INTERVAL", "200ms")
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	hs, ready, cleanup, err := handlers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	routes, _, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := NewGateway(Config{Routes: routes, JWTSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetBackend(Backend{Handlers: hs, Authorizers: registeredAuthorizers(), Readiness: ready})
	srv := httptest.NewServer(gw) // 127.0.0.1
	t.Cleanup(srv.Close)

	// The portal's own answers carry its policy.
	res, err := http.Get(srv.URL + "/portal")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || res.Header.Get("X-Frame-Options") != "DENY" ||
		res.Header.Get("Referrer-Policy") != "no-referrer" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("portal headers: %v", res.Header)
	}

	demo := func(secret string) int {
		req, _ := http.NewRequest("GET", srv.URL+"/demo/charges", nil)
		req.Header.Set("Authorization", "Bearer "+secret)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	// demoBecomes waits for a change to reach the authorizer (within 2 s).
	demoBecomes := func(secret string, want int, what string) {
		t.Helper()
		deadline := time.Now().Add(3 * time.Second)
		for {
			got := demo(secret)
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: /demo answered %d, want %d", what, got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	const merchant = "m_portal"
	b := newBrowserSession(t, ctx, srv.URL)
	b.signIn(merchant, "admin", "user_admin", "signin")

	// A live key beside the test ones, so both columns show something.
	tok, err := MintToken(testSecret, TokenOptions{Subject: "user_admin", Merchant: merchant, Role: "admin", TTL: time.Hour,
		Issuer: localIssuer, Audience: localAudience})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v1/keys", strings.NewReader(
		`{"name":"payouts (live)","environment":"live","scopes":["payments:read"],"allowed_ips":["203.0.113.0/24"]}`))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("create a live key: %v %v", res, err)
	}

	// Create: the secret is shown once, copied, confirmed, and then gone
	// from the page; the copy works at /demo.
	b.goTo("#/create")
	b.do("fill create",
		chromedp.SetValue(chromedp.CSS(`form.create input[name=name]`), "checkout backend"),
		chromedp.Click(chromedp.CSS(`input[name=scope][value="payments:read"]`)),
		chromedp.Click(chromedp.CSS(`input[name=scope][value="payments:write"]`)),
		chromedp.SetValue(chromedp.CSS(`textarea[name=allowed_ips]`), "127.0.0.1\n10.0.0.0/8"))
	b.screenshot("create")
	b.do("create", chromedp.Click(chromedp.CSS(`form.create button[type=submit]`)))
	secret1 := b.takeSecret("secret-dialog")
	if !secretShape.MatchString(secret1) {
		t.Fatalf("copied value is not a test secret (%d characters)", len(secret1))
	}
	b.do("key page", chromedp.WaitVisible(chromedp.CSS(`#key-title`)))
	keyID := evaluate[string](b, `document.querySelector("section[data-key]").dataset.key`)
	if demo(secret1) != 200 {
		t.Fatal("the copied secret does not work at /demo")
	}

	// Verify: valid and invalid.
	b.goTo("#/keys/" + keyID)
	if v := b.verify(secret1); v != "valid" {
		t.Errorf("verify with the secret = %q, want valid", v)
	}
	if v := b.verify(secret1[:len(secret1)-1] + "x"); v != "invalid" {
		t.Errorf("verify with a wrong secret = %q, want invalid", v)
	}
	b.screenshot("key")

	// Reset without grace: the old secret stops at once.
	b.do("reset", chromedp.Click(chromedp.CSS(`[data-action=reset]`)))
	if !strings.Contains(b.text(`dialog[open]`), "irrevocable") {
		t.Error("the reset confirmation does not say it is irrevocable")
	}
	b.confirm("reset-confirm")
	secret2 := b.takeSecret("")
	if secret2 == secret1 || !secretShape.MatchString(secret2) {
		t.Fatal("the reset did not give a new secret")
	}
	demoBecomes(secret1, 401, "old secret after a reset without grace")
	demoBecomes(secret2, 200, "new secret")

	// Reset with an hour's grace: both work.
	b.goTo("#/keys/" + keyID)
	b.do("reset with grace", chromedp.Click(chromedp.CSS(`[data-action=reset]`)),
		chromedp.WaitVisible(chromedp.CSS(`dialog[open] select[name=grace]`)),
		chromedp.SetValue(chromedp.CSS(`dialog[open] select[name=grace]`), "3600"))
	b.confirm("")
	secret3 := b.takeSecret("")
	demoBecomes(secret3, 200, "new secret after a reset with grace")
	demoBecomes(secret2, 200, "previous secret inside its grace period")
	b.goTo("#/keys/" + keyID)
	if !strings.Contains(b.text(`section[data-key] dl`), "previous secret works until") {
		t.Error("the key page does not show the grace period")
	}

	// Disable: verify says right secret, but disabled; then enable again.
	b.do("disable", chromedp.Click(chromedp.CSS(`[data-action=disable]`)))
	b.confirm("")
	b.do("disabled", chromedp.WaitVisible(chromedp.CSS(`[data-action=enable]`)))
	if v := b.verify(secret3); v != "disabled" {
		t.Errorf("verify on a disabled key = %q, want disabled", v)
	}
	demoBecomes(secret3, 403, "a disabled key")
	b.do("enable", chromedp.Click(chromedp.CSS(`[data-action=enable]`)))
	b.confirm("")
	b.do("enabled", chromedp.WaitVisible(chromedp.CSS(`[data-action=disable]`)))
	demoBecomes(secret3, 200, "an enabled key")

	// The rate limit: 10 tries a minute per key, then the form says so.
	for i := 0; ; i++ {
		if v := b.verify("paykeys_sk_test_wrong"); v == "rate_limited" {
			break
		}
		if i > 10 {
			t.Fatal("the verify form never showed the rate limit")
		}
	}
	b.screenshot("verify-rate-limit")

	// Revoke.
	b.do("revoke", chromedp.Click(chromedp.CSS(`[data-action=revoke]`)))
	b.confirm("revoke-confirm")
	b.do("revoked", chromedp.WaitVisible(chromedp.CSS(`section[data-key] .st-revoked`)))
	if b.present(`[data-action]`) {
		t.Error("a revoked key still offers actions")
	}
	demoBecomes(secret3, 403, "a revoked key")

	b.goTo("#/keys")
	if n := evaluate[int](b, `document.querySelectorAll(".env-test [data-key]").length`); n != 1 {
		t.Errorf("%d test keys listed, want 1", n)
	}
	if n := evaluate[int](b, `document.querySelectorAll(".env-live [data-key]").length`); n != 1 {
		t.Errorf("%d live keys listed, want 1", n)
	}
	b.screenshot("keys")

	// Webhooks: an endpoint on a receiver on 127.0.0.1, its signing secret
	// shown once, a test event signed with it, a retry, a rotation.
	hooks := newHookReceiver(t)
	b.goTo("#/webhooks")
	b.do("add endpoint",
		chromedp.SetValue(chromedp.CSS(`form.create input[name=url]`), hooks.srv.URL+"/hooks"),
		chromedp.SetValue(chromedp.CSS(`form.create input[name=description]`), "order service"),
		chromedp.Click(chromedp.CSS(`form.create button[type=submit]`)))
	signing := b.takeSecret("webhook-secret")
	if !strings.HasPrefix(signing, webhook.SecretPrefix) {
		t.Fatal("the webhook dialog did not show a signing secret")
	}
	b.do("endpoint page", chromedp.WaitVisible(chromedp.CSS(`#ep-title`)))
	verifies := func(h receivedHook, secret string) bool {
		key, err := webhook.DecodeSecret(secret)
		if err != nil {
			t.Fatal(err)
		}
		var ts int64
		fmt.Sscan(h.Timestamp, &ts)
		want := webhook.Sign(key, h.ID, time.Unix(ts, 0), h.Body)
		for _, s := range strings.Fields(h.Signature) {
			if hmac.Equal([]byte(s), []byte(want)) {
				return true
			}
		}
		return false
	}
	b.do("test event", chromedp.Click(chromedp.CSS(`[data-action=test]`)))
	first := hooks.wait(t, 20*time.Second, "webhook.test", func(h receivedHook) bool { return h.Type == "webhook.test" })
	if !verifies(first, signing) {
		t.Errorf("the test delivery's signature %q does not verify with the secret the dialog showed", first.Signature)
	}
	b.do("delivery log", chromedp.Click(chromedp.CSS(`#dl-title + button`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-delivery=%q][data-status=succeeded]`, first.ID))))
	b.do("retry", chromedp.Click(chromedp.CSS(fmt.Sprintf(`tr[data-delivery=%q] [data-action=retry]`, first.ID))))
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		hooks.mu.Lock()
		sent := 0
		for _, h := range hooks.got {
			if h.ID == first.ID {
				sent++
			}
		}
		hooks.mu.Unlock()
		if sent >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the retried delivery did not arrive")
		}
	}
	b.do("rotate", chromedp.Click(chromedp.CSS(`[data-action=rotate]`)))
	b.confirm("")
	rotated := b.takeSecret("")
	b.do("test after rotation", chromedp.WaitVisible(chromedp.CSS(`[data-action=test]`)), chromedp.Click(chromedp.CSS(`[data-action=test]`)))
	second := hooks.wait(t, 20*time.Second, "a second webhook.test", func(h receivedHook) bool { return h.Type == "webhook.test" && h.ID != first.ID })
	if !verifies(second, rotated) || !verifies(second, signing) {
		t.Errorf("during the overlap the delivery must verify with both secrets: %q", second.Signature)
	}
	b.do("delivery log", chromedp.Sleep(2*time.Second), chromedp.Click(chromedp.CSS(`#dl-title + button`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`tr[data-delivery=%q]`, second.ID))))
	b.screenshot("webhook")

	// The audit log.
	b.goTo("#/audit")
	audit := b.text(`table.list`)
	for _, action := range []string{"key.create", "key.reset", "key.disable", "key.update", "key.revoke", "webhook.create", "webhook.test", "webhook.retry", "webhook.rotate_secret"} {
		if !strings.Contains(audit, action) {
			t.Errorf("the audit log shows no %s", action)
		}
	}
	b.screenshot("audit")

	// A viewer sees keys, usage and webhooks, and no button to change them.
	b.do("sign out", chromedp.Click(chromedp.CSS(`#who button`)), chromedp.WaitVisible(chromedp.CSS(`form.dev-signin`)))
	b.signIn(merchant, "viewer", "user_viewer", "")
	if b.present(`a[href="#/create"]`) || b.present(`a[href="#/audit"]`) {
		t.Error("a viewer is offered create or the audit log")
	}
	// The usage chart counts the /demo and verify decisions above, once the
	// authorizer's counters are written (every 10 s).
	usage := regexp.MustCompile(`: (\d+) allowed and (\d+) denied in 30 days`)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Second) {
		b.goTo("#/keys/" + keyID)
		m := usage.FindStringSubmatch(evaluate[string](b, `document.querySelector("svg.chart").getAttribute("aria-label")`))
		if m != nil && m[1] != "0" && m[2] != "0" {
			if bars := evaluate[int](b, `[...document.querySelectorAll("svg.chart rect")].filter((r) => r.getAttribute("height") > 0).length`); bars < 2 {
				t.Errorf("the chart says %s but draws %d bars", m[0], bars)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the usage chart shows no allowed and denied requests: %v", m)
		}
	}
	if b.present(`[data-action]`) || b.present(`form.verify`) {
		t.Error("a viewer sees key actions or the verify form")
	}
	b.screenshot("viewer-key")
	b.goTo("#/webhooks")
	if b.present(`form.create`) {
		t.Error("a viewer is offered to add an endpoint")
	}
	endpoint := evaluate[string](b, `document.querySelector("tr[data-endpoint]").dataset.endpoint`)
	b.goTo("#/webhooks/" + endpoint)
	if b.present(`button[data-action]`) {
		t.Error("a viewer sees endpoint actions")
	}
	b.goTo("#/keys")
	if b.present(`main button:not(.link):not([hidden])`) {
		t.Error("a viewer sees a button on the keys page")
	}
	b.screenshot("viewer-keys")

	// A developer may check a secret, and nothing more.
	b.do("sign out", chromedp.Click(chromedp.CSS(`#who button`)), chromedp.WaitVisible(chromedp.CSS(`form.dev-signin`)))
	b.signIn(merchant, "developer", "user_dev", "")
	live := evaluate[string](b, `document.querySelector(".env-live [data-key]").dataset.key`)
	b.goTo("#/keys/" + live)
	if !b.present(`form.verify`) || b.present(`[data-action]`) {
		t.Error("a developer should see the verify form and no key actions")
	}

	// Nothing went wrong on the way; and the listeners do hear a violation:
	// an image from another origin is refused by img-src and reported.
	b.mu.Lock()
	for _, p := range b.problems {
		t.Error(p)
	}
	b.problems = nil
	b.mu.Unlock()
	probe := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/probe.png" // another origin, same receiver
	b.do("provoke a violation", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.body.append(Object.assign(document.createElement("img"), {src: %q}))`, probe)))
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		b.mu.Lock()
		heard := strings.Contains(strings.Join(b.problems, "\n"), "CSP violation: img-src")
		b.mu.Unlock()
		if heard {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a CSP violation the test provoked was not reported: the listeners hear nothing")
		}
	}
}

// TestPortalOIDCSignIn signs in to the portal the way a deployment does:
// authorization code with PKCE in a pop-up, against an issuer on 127.0.0.1
// that checks the code challenge against the verifier and answers with a
// token the gateway accepts. The verifier, state and token never reach
// storage.
func TestPortalOIDCSignIn(t *testing.T) {
	testenv.Dynamo(t)
	chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var mu sync.Mutex
	var challenge, redirect string
	exchanged := false
	issuer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		q := r.URL.Query()
		switch r.URL.Path {
		case "/authorize":
			if q.Get("response_type") != "code" || q.Get("client_id") != "portal-client" || q.Get("code_challenge_method") != "S256" ||
				q.Get("state") == "" || q.Get("scope") != "openid" {
				http.Error(w, "bad authorization request", 400)
				return
			}
			challenge, redirect = q.Get("code_challenge"), q.Get("redirect_uri")
			http.Redirect(w, r, redirect+"?code=the-code&state="+q.Get("state"), http.StatusFound)
		case "/token":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			_ = r.ParseForm()
			sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
			if r.Method != "POST" || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "the-code" ||
				r.PostForm.Get("redirect_uri") != redirect || r.PostForm.Get("client_id") != "portal-client" ||
				base64.RawURLEncoding.EncodeToString(sum[:]) != challenge {
				http.Error(w, `{"error":"invalid_grant"}`, 400)
				return
			}
			tok, err := MintToken(testSecret, TokenOptions{Subject: "user_oidc", Merchant: "m_oidc", Role: "developer", TTL: time.Hour,
				Issuer: localIssuer, Audience: localAudience})
			if err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			exchanged = true
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "id_token": "not-this-one", "token_type": "Bearer", "expires_in": 3600})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(issuer.Close)

	t.Setenv("TEMPLATE", "../../template.yaml")
	t.Setenv("TABLE_NAME", testenv.UniqueName(t, "oidc"))
	t.Setenv("SECRET_PREFIX", testenv.UniqueName(t, "oidc")+"/")
	t.Setenv("PORTAL_DEV_SIGNIN", "false")
	t.Setenv("PORTAL_OIDC_ISSUER", "Example ID")
	t.Setenv("PORTAL_OIDC_CLIENT_ID", "portal-client")
	t.Setenv("PORTAL_OIDC_AUTHORIZE_URL", issuer.URL+"/authorize")
	t.Setenv("PORTAL_OIDC_TOKEN_URL", issuer.URL+"/token")
	hs, ready, cleanup, err := handlers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cleanup)
	routes, _, err := LoadTemplate("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	gw, err := NewGateway(Config{Routes: routes, JWTSecret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	gw.SetBackend(Backend{Handlers: hs, Authorizers: registeredAuthorizers(), Readiness: ready})
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)

	b := newBrowserSession(t, ctx, srv.URL)
	b.do("open the portal", chromedp.Navigate(srv.URL+"/portal"), chromedp.WaitVisible(chromedp.CSS(`section.signin button.primary`)))
	if b.present(`form.dev-signin`) {
		t.Fatal("a deployment's portal offers the development sign-in")
	}
	b.do("sign in", chromedp.Click(chromedp.CSS(`section.signin button.primary`)),
		chromedp.WaitVisible(chromedp.CSS(`#keys-title`)), chromedp.WaitReady(chromedp.CSS(`main[data-ready="#/keys"]`)))
	if got := b.text(`#who`); !strings.Contains(got, "user_oidc · m_oidc") || b.text(`[data-role]`) != "developer" {
		t.Errorf("signed in as %q", got)
	}
	mu.Lock()
	if !exchanged {
		t.Error("the code was never exchanged")
	}
	mu.Unlock()
	if b.present(`a[href="#/create"]`) {
		t.Error("a developer is offered to create keys")
	}
	if kept := evaluate[string](b, `JSON.stringify([localStorage.length, sessionStorage.length, document.cookie, location.search])`); kept != `[0,0,"",""]` {
		t.Errorf("the sign-in left something in storage, cookies or the address: %s", kept)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		t.Error(p)
	}
}
