package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DefaultTimeout bounds a delivery attempt, from dialling to reading the
// response, when Sender.Timeout is zero.
const DefaultTimeout = 15 * time.Second

// Resolver looks up the addresses of a host name. *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Sender posts webhook deliveries. Unless AllowPrivate is set it refuses
// every address ForbiddenAddr rejects, checking the address each connection
// is actually made to, so a host that resolved to a public address when it
// was registered and to an internal one later is still refused. It never
// uses a proxy from the environment, never follows redirects and makes a new
// connection for each attempt.
//
// The zero value is ready to use. Set the fields before the first Send; a
// Sender must not be copied after that.
type Sender struct {
	// AllowPrivate turns off the address checks and allows http URLs. Only
	// deployments that explicitly allow private test endpoints, such as the
	// local development stack, set it.
	AllowPrivate bool
	// LoopbackOnly allows http URLs but only on a loopback host (an address
	// in 127.0.0.0/8, ::1, or localhost) and dials nothing else; any other
	// host is refused without a DNS lookup. For runs, such as API fuzzing,
	// that must never send a request off the machine. It wins over
	// AllowPrivate.
	LoopbackOnly bool
	// Timeout bounds each attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// Resolver is used by CheckHost; nil means net.DefaultResolver.
	Resolver Resolver

	once   sync.Once
	client *http.Client
}

func (s *Sender) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return DefaultTimeout
}

// CheckHost validates an endpoint URL (see ValidateURL) and resolves its host,
// refusing it, with an error wrapping ErrForbiddenAddress, if any of its
// addresses is forbidden; it is meant for registering an endpoint. A host
// with no addresses is ErrUnresolvable. Errors wrapping the package's
// sentinels have messages fit for a 400 response; any other error is a
// failure of the resolver itself.
func (s *Sender) CheckHost(ctx context.Context, rawURL string) error {
	if err := ValidateURL(rawURL, s.AllowPrivate || s.LoopbackOnly); err != nil {
		return err
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return invalidURL("url is not a valid URL")
	}
	host := u.Hostname()
	if s.LoopbackOnly {
		if !loopbackHost(host) {
			return forbidden("url host must be a loopback address here")
		}
		return nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !s.AllowPrivate && ForbiddenAddr(ip) {
			return forbidden("url host " + host + " is " + reserved)
		}
		return nil
	}

	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	var r Resolver = net.DefaultResolver
	if s.Resolver != nil {
		r = s.Resolver
	}
	addrs, err := r.LookupNetIP(ctx, "ip", host)
	var dnsErr *net.DNSError
	if err != nil && !(errors.As(err, &dnsErr) && dnsErr.IsNotFound) {
		return fmt.Errorf("webhook: resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return &publicError{kind: ErrUnresolvable, msg: "url host " + host + " does not resolve"}
	}
	if s.AllowPrivate {
		return nil
	}
	for _, a := range addrs {
		if ForbiddenAddr(a) {
			return forbidden("url host " + host + " resolves to " + a.String() + ", " + reserved)
		}
	}
	return nil
}

const reserved = "a private, loopback or reserved address"

func forbidden(msg string) error { return &publicError{kind: ErrForbiddenAddress, msg: msg} }

// loopbackHost reports whether host is localhost or a loopback address.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// checkLoopbackDial is the dialer's Control function in LoopbackOnly mode.
func checkLoopbackDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return forbidden("address not allowed: only loopback addresses are allowed here")
	}
	return nil
}

// checkDial is the dialer's Control function: it runs after the host name
// has been resolved and before each connection is made, with the address
// about to be dialled.
func checkDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return forbidden("address not allowed: cannot check " + address)
	}
	if ForbiddenAddr(ap.Addr()) {
		return forbidden("address not allowed: " + ap.Addr().String() + " is " + reserved)
	}
	return nil
}

func (s *Sender) httpClient() *http.Client {
	s.once.Do(func() {
		d := &net.Dialer{}
		switch {
		case s.LoopbackOnly:
			d.Control = checkLoopbackDial
		case !s.AllowPrivate:
			d.Control = checkDial
		}
		s.client = &http.Client{
			Transport: &http.Transport{
				Proxy:                  nil, // never from the environment
				DialContext:            d.DialContext,
				ForceAttemptHTTP2:      true,
				DisableKeepAlives:      true,
				MaxResponseHeaderBytes: 64 << 10,
			},
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
			Timeout: s.timeout(),
		}
	})
	return s.client
}

// Send makes one delivery attempt: it POSTs body to rawURL with headers
// (Content-Type application/json and the User-Agent when headers lack them)
// and records the outcome, reading at most MaxResponseBody bytes of the
// response. A 3xx response is returned as it is, not followed. Send never
// panics and reports every failure, including a URL that ValidateURL refuses
// and a forbidden address, in Attempt.Error with Status 0.
func (s *Sender) Send(ctx context.Context, rawURL string, headers http.Header, body []byte) Attempt {
	start := time.Now()
	a := Attempt{At: start.UTC()}
	if err := ValidateURL(rawURL, s.AllowPrivate || s.LoopbackOnly); err != nil {
		a.Error = err.Error()
		return a
	}
	if u, err := url.Parse(rawURL); s.LoopbackOnly && (err != nil || !loopbackHost(u.Hostname())) {
		a.Error = "url host must be a loopback address here"
		return a
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		a.Error = "cannot build request: " + err.Error()
		return a
	}
	for k, v := range headers {
		req.Header[k] = append([]string(nil), v...)
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", UserAgent)
	}

	resp, err := s.httpClient().Do(req)
	if err != nil {
		a.Latency = time.Since(start)
		a.Error = describe(err, a.Latency)
		return a
	}
	a.Status = resp.StatusCode
	a.RetryAfter = resp.Header.Get("Retry-After")
	// A failure while reading the body leaves what was read: the status
	// decides the outcome.
	b, _ := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBody))
	resp.Body.Close()
	a.ResponseBody = TruncateBody(b)
	a.Latency = time.Since(start)
	return a
}

// describe turns a failed request into a message for the endpoint's owner.
func describe(err error, elapsed time.Duration) string {
	var pe *publicError
	if errors.As(err, &pe) {
		return pe.msg
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() {
		return "timed out after " + elapsed.Round(time.Millisecond).String()
	}
	if errors.Is(err, context.Canceled) {
		return "canceled before a response arrived"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error() // without the URL, which the caller already has
	}
	return err.Error()
}
