package webhook

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// fakeResolver answers from a map; a host it does not know does not exist.
type fakeResolver map[string][]string

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if host == "broken.example" {
		return nil, &net.DNSError{Err: "server misbehaving", Name: host, IsTemporary: true}
	}
	addrs, ok := f[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	var out []netip.Addr
	for _, a := range addrs {
		out = append(out, netip.MustParseAddr(a))
	}
	return out, nil
}

func TestCheckHost(t *testing.T) {
	r := fakeResolver{
		"loopback.example": {"127.0.0.1"},
		"private.example":  {"10.0.0.1"},
		"metadata.example": {"169.254.169.254"},
		"mapped.example":   {"::ffff:127.0.0.1"},
		"mixed.example":    {"93.184.216.34", "10.0.0.1"},
		"v6.example":       {"fd00:ec2::254"},
		"public.example":   {"93.184.216.34", "2606:2800:220:1::1"},
		"empty.example":    {},
	}
	tests := []struct {
		url            string
		strict, loose  error // want with AllowPrivate false and true; nil means allowed
		strictContains string
	}{
		{"https://loopback.example/", ErrForbiddenAddress, nil, "resolves to 127.0.0.1"},
		{"https://private.example/", ErrForbiddenAddress, nil, "resolves to 10.0.0.1"},
		{"https://metadata.example/", ErrForbiddenAddress, nil, "resolves to 169.254.169.254"},
		{"https://mapped.example/", ErrForbiddenAddress, nil, "resolves to ::ffff:127.0.0.1"},
		{"https://mixed.example/", ErrForbiddenAddress, nil, "resolves to 10.0.0.1"},
		{"https://v6.example/", ErrForbiddenAddress, nil, "resolves to fd00:ec2::254"},
		{"https://127.0.0.1/", ErrForbiddenAddress, nil, "url host 127.0.0.1 is a private"},
		{"https://[::1]:8443/", ErrForbiddenAddress, nil, "url host ::1 is"},
		{"https://[::ffff:127.0.0.1]/", ErrForbiddenAddress, nil, "url host ::ffff:127.0.0.1 is"},
		{"https://public.example/hook", nil, nil, ""},
		{"https://93.184.216.34/", nil, nil, ""},
		{"https://missing.example/", ErrUnresolvable, ErrUnresolvable, "does not resolve"},
		{"https://empty.example/", ErrUnresolvable, ErrUnresolvable, "does not resolve"},
		{"http://public.example/", ErrInvalidURL, nil, "url must use https"},
	}
	ctx := context.Background()
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			strict := &Sender{Resolver: r}
			err := strict.CheckHost(ctx, tt.url)
			if !errors.Is(err, tt.strict) || (tt.strict == nil) != (err == nil) {
				t.Fatalf("AllowPrivate false: err = %v, want %v", err, tt.strict)
			}
			if err != nil && !strings.Contains(err.Error(), tt.strictContains) {
				t.Errorf("message %q lacks %q", err, tt.strictContains)
			}
			loose := &Sender{Resolver: r, AllowPrivate: true}
			err = loose.CheckHost(ctx, tt.url)
			if !errors.Is(err, tt.loose) || (tt.loose == nil) != (err == nil) {
				t.Fatalf("AllowPrivate true: err = %v, want %v", err, tt.loose)
			}
		})
	}

	// A resolver failure is not the user's fault: no sentinel.
	err := (&Sender{Resolver: r}).CheckHost(ctx, "https://broken.example/")
	if err == nil || errors.Is(err, ErrUnresolvable) || errors.Is(err, ErrForbiddenAddress) || errors.Is(err, ErrInvalidURL) {
		t.Errorf("resolver failure: err = %v, want a plain error", err)
	}
}

// recorder is a test endpoint that records what it receives.
type recorder struct {
	conns  atomic.Int32 // connections accepted
	hits   atomic.Int32 // requests handled
	header http.Header
	body   []byte
	method string
}

func (rec *recorder) server(t *testing.T, status int, respBody string) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.hits.Add(1)
		rec.method, rec.header = r.Method, r.Header.Clone()
		rec.body, _ = io.ReadAll(r.Body)
		w.WriteHeader(status)
		io.WriteString(w, respBody)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			rec.conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestSendRefusesForbiddenAddressAtDial(t *testing.T) {
	var rec recorder
	srv := rec.server(t, http.StatusOK, "ok")
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	s := &Sender{Timeout: 5 * time.Second}

	// ValidateURL and the host name pass; only the address dialled is
	// forbidden. "localhost" is resolved by the dialer itself, so the refusal
	// can only come from the dial-time check.
	for _, u := range []string{
		"https://localhost:" + strconv.Itoa(port) + "/hook",
		"https://127.0.0.1:" + strconv.Itoa(port) + "/hook",
		"https://[::ffff:127.0.0.1]:" + strconv.Itoa(port) + "/hook",
	} {
		t.Run(u, func(t *testing.T) {
			a := s.Send(context.Background(), u, nil, []byte(`{}`))
			if a.Status != 0 || a.Outcome() != Failed {
				t.Fatalf("status %d, outcome %v; want 0, failed", a.Status, a.Outcome())
			}
			if !strings.HasPrefix(a.Error, "address not allowed: ") || !strings.Contains(a.Error, "127.0.0.1") && !strings.Contains(a.Error, "::1") {
				t.Fatalf("error %q, want the address refused", a.Error)
			}
			if a.At.IsZero() || a.Latency <= 0 {
				t.Errorf("at %v, latency %v", a.At, a.Latency)
			}
		})
	}
	if n := rec.conns.Load(); n != 0 {
		t.Fatalf("the server accepted %d connections", n)
	}
}

// A host that passed CheckHost at registration and now resolves to loopback
// (DNS rebinding) is still refused when sending.
func TestSendRefusesRebinding(t *testing.T) {
	var rec recorder
	srv := rec.server(t, http.StatusOK, "ok")
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	u := "https://localhost:" + strconv.Itoa(port) + "/hook"

	s := &Sender{Resolver: fakeResolver{"localhost": {"93.184.216.34"}}}
	if err := s.CheckHost(context.Background(), u); err != nil {
		t.Fatalf("CheckHost: %v", err)
	}
	a := s.Send(context.Background(), u, nil, []byte(`{}`))
	if a.Status != 0 || !strings.HasPrefix(a.Error, "address not allowed") || rec.conns.Load() != 0 {
		t.Fatalf("attempt %+v, server connections %d; want refused", a, rec.conns.Load())
	}
}

func TestSendDelivers(t *testing.T) {
	var rec recorder
	srv := rec.server(t, http.StatusOK, `{"received":true}`)

	secret := NewSecret()
	key, _ := DecodeSecret(secret)
	ts := time.Now()
	body := []byte(`{"type":"webhook.test","timestamp":"2026-11-23T10:00:00Z","data":{"endpoint_id":"we_1"}}`)
	h := Headers("msg_1", ts, SignatureHeader([][]byte{key}, "msg_1", ts, body))

	s := &Sender{AllowPrivate: true}
	a := s.Send(context.Background(), srv.URL+"/hook", h, body)
	if a.Error != "" || a.Status != http.StatusOK || a.Outcome() != Succeeded {
		t.Fatalf("attempt %+v, want a 200", a)
	}
	if a.ResponseBody != `{"received":true}` || a.Latency <= 0 || a.At.Location() != time.UTC {
		t.Errorf("attempt %+v", a)
	}
	if rec.method != http.MethodPost || string(rec.body) != string(body) {
		t.Errorf("server got %s %q", rec.method, rec.body)
	}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature", "Content-Type", "User-Agent"} {
		if got, want := rec.header.Get(k), h.Get(k); got != want {
			t.Errorf("server got %s %q, want %q", k, got, want)
		}
	}
	wh, _ := standardwebhooks.NewWebhook(secret)
	if err := wh.Verify(rec.body, rec.header); err != nil {
		t.Errorf("the receiver cannot verify the delivery: %v", err)
	}
	assertNoSecret(t, rec.header, secret)

	// Headers the caller leaves out get their defaults; the caller's map is
	// not changed.
	custom := http.Header{"X-Test": {"1"}}
	s.Send(context.Background(), srv.URL, custom, body)
	if rec.header.Get("Content-Type") != "application/json" || rec.header.Get("User-Agent") != UserAgent || rec.header.Get("X-Test") != "1" {
		t.Errorf("server got headers %v", rec.header)
	}
	if len(custom) != 1 {
		t.Errorf("Send changed the caller's headers: %v", custom)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	for _, status := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			var target recorder
			targetSrv := target.server(t, http.StatusOK, "ok")
			redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, targetSrv.URL+"/elsewhere", status)
			}))
			t.Cleanup(redirect.Close)

			a := (&Sender{AllowPrivate: true}).Send(context.Background(), redirect.URL, nil, []byte(`{}`))
			if a.Status != status || a.Outcome() != Failed || a.Error != "" {
				t.Fatalf("attempt %+v, want status %d, failed", a, status)
			}
			if n := target.hits.Load(); n != 0 {
				t.Fatalf("the redirect was followed: target got %d requests", n)
			}
		})
	}
}

func TestSendResponses(t *testing.T) {
	big := strings.Repeat("x", 100*1024)
	tests := []struct {
		name       string
		status     int
		body       string
		retryAfter string
		want       Outcome
		wantBody   string
	}{
		{"gone", http.StatusGone, "endpoint removed", "", Gone, "endpoint removed"},
		{"no content", http.StatusNoContent, "", "", Succeeded, ""},
		{"server error", http.StatusInternalServerError, "boom", "", Failed, "boom"},
		{"rate limited", http.StatusTooManyRequests, "", "120", Failed, ""},
		{"100 KB body", http.StatusOK, big, "", Succeeded, big[:MaxResponseBody]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.retryAfter != "" {
					w.Header().Set("Retry-After", tt.retryAfter)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			t.Cleanup(srv.Close)

			a := (&Sender{AllowPrivate: true}).Send(context.Background(), srv.URL, nil, []byte(`{}`))
			if a.Status != tt.status || a.Outcome() != tt.want || a.Error != "" {
				t.Fatalf("attempt status %d, outcome %v, error %q; want %d, %v", a.Status, a.Outcome(), a.Error, tt.status, tt.want)
			}
			if a.ResponseBody != tt.wantBody {
				t.Errorf("response body of %d bytes, want %d", len(a.ResponseBody), len(tt.wantBody))
			}
			if a.RetryAfter != tt.retryAfter {
				t.Errorf("RetryAfter %q, want %q", a.RetryAfter, tt.retryAfter)
			}
		})
	}
}

func TestSendTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) // so the server notices the client going away
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)

	start := time.Now()
	a := (&Sender{AllowPrivate: true, Timeout: 100 * time.Millisecond}).Send(context.Background(), srv.URL, nil, []byte(`{}`))
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("Send took %v with a 100ms timeout", elapsed)
	}
	if a.Status != 0 || a.Outcome() != Failed || !strings.HasPrefix(a.Error, "timed out after ") {
		t.Fatalf("attempt %+v, want a timeout", a)
	}
}

func TestSendFailures(t *testing.T) {
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name    string
		sender  *Sender
		ctx     context.Context
		url     string
		wantErr string
	}{
		{"http refused", &Sender{}, context.Background(), "http://example.com/", "url must use https"},
		{"invalid url", &Sender{AllowPrivate: true}, context.Background(), "ftp://example.com/", "url must use https or http"},
		{"connection refused", &Sender{AllowPrivate: true}, context.Background(), closedURL, "connection refused"},
		{"canceled", &Sender{AllowPrivate: true}, canceled, closedURL, "canceled"},
		{"nil context", &Sender{AllowPrivate: true}, nil, closedURL, "cannot build request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.sender.Send(tt.ctx, tt.url, nil, nil)
			if a.Status != 0 || a.Outcome() != Failed || !strings.Contains(a.Error, tt.wantErr) {
				t.Fatalf("attempt %+v, want an error with %q", a, tt.wantErr)
			}
			if strings.Contains(a.Error, "Post ") {
				t.Errorf("error %q repeats the request", a.Error)
			}
		})
	}
}

func TestSendIgnoresProxyEnvironment(t *testing.T) {
	var proxy recorder
	proxySrv := proxy.server(t, http.StatusOK, "proxied")
	var rec recorder
	srv := rec.server(t, http.StatusOK, "direct")
	t.Setenv("HTTP_PROXY", proxySrv.URL)
	t.Setenv("HTTPS_PROXY", proxySrv.URL)
	t.Setenv("NO_PROXY", "")

	// A host that is not loopback by name, so Go's own loopback exception
	// for proxies does not apply.
	u, _ := url.Parse(srv.URL)
	u.Host = "127.0.0.1.nip.invalid:" + u.Port()
	a := (&Sender{AllowPrivate: true}).Send(context.Background(), u.String(), nil, nil)
	if proxy.hits.Load() != 0 || a.ResponseBody == "proxied" {
		t.Fatalf("the request went through the environment's proxy: %+v", a)
	}
	if tr := (&Sender{}).httpClient().Transport.(*http.Transport); tr.Proxy != nil {
		t.Fatal("the transport has a proxy function")
	}
}

// countingResolver records every lookup it is asked for.
type countingResolver struct{ n atomic.Int32 }

func (c *countingResolver) LookupNetIP(context.Context, string, string) ([]netip.Addr, error) {
	c.n.Add(1)
	return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
}

// LoopbackOnly allows http on loopback hosts and refuses every other host,
// public or private, at registration and at sending, without a DNS lookup.
func TestLoopbackOnly(t *testing.T) {
	var rec recorder
	srv := rec.server(t, http.StatusNoContent, "")
	port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
	tests := []struct {
		url     string
		allowed bool
	}{
		{srv.URL + "/hook", true},
		{"http://localhost:" + port + "/hook", true},
		{"http://[::1]:" + port + "/hook", false}, // allowed, but nothing listens there
		{"http://127.9.9.9:" + port + "/", false}, // likewise
		{"https://example.com/hook", false},
		{"http://10.0.0.1/hook", false},
		{"http://169.254.169.254/latest/meta-data", false},
		{"https://93.184.216.34/hook", false},
		{"http://[::ffff:10.0.0.1]/", false},
		{"http://loopback.example/", false},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			var r countingResolver
			s := &Sender{LoopbackOnly: true, AllowPrivate: true, Resolver: &r, Timeout: 2 * time.Second}
			u, _ := url.Parse(tt.url)
			loopback := loopbackHost(u.Hostname())
			err := s.CheckHost(context.Background(), tt.url)
			if loopback != (err == nil) {
				t.Errorf("CheckHost = %v, want allowed %v", err, loopback)
			}
			if !loopback && !errors.Is(err, ErrForbiddenAddress) {
				t.Errorf("CheckHost = %v, want ErrForbiddenAddress", err)
			}
			a := s.Send(context.Background(), tt.url, http.Header{}, []byte(`{}`))
			if got := a.Status == http.StatusNoContent; got != tt.allowed {
				t.Errorf("Send = %+v, want delivered %v", a, tt.allowed)
			}
			if !loopback && !strings.Contains(a.Error, "loopback") {
				t.Errorf("Send error = %q, want a loopback refusal", a.Error)
			}
			if n := r.n.Load(); n != 0 {
				t.Errorf("%d DNS lookups, want none", n)
			}
		})
	}
}
