package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// requestTimeLayout is the format of requestContext.time ("12/Mar/2020:19:03:58 +0000").
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// eventMeta is what API Gateway knows about a request besides the request itself.
type eventMeta struct {
	RequestID string
	Time      time.Time
	AccountID string
	APIID     string
}

// buildEvent builds the payload format 2.0 event API Gateway would send for r.
// The body is left empty: it is read after authorization (see setEventBody).
//
// As an HTTP API does: header names are lower-cased and repeated headers
// joined with ","; Cookie headers go to Cookies (one entry per cookie) and not
// to Headers; host, x-forwarded-for/-port/-proto and x-amzn-trace-id are
// added; rawPath and requestContext.http.path are the decoded path;
// rawQueryString is the query as sent; queryStringParameters are decoded,
// repeated names joined with ","; the source IP is the TCP peer's, never
// X-Forwarded-For.
func buildEvent(r *http.Request, route Route, params map[string]string, meta eventMeta) events.APIGatewayV2HTTPRequest {
	headers, cookies := eventHeaders(r)
	sourceIP := peerIP(r.RemoteAddr)
	if xff := headers["x-forwarded-for"]; xff != "" {
		headers["x-forwarded-for"] = xff + ", " + sourceIP
	} else {
		headers["x-forwarded-for"] = sourceIP
	}
	headers["x-forwarded-proto"] = "http"
	if r.TLS != nil {
		headers["x-forwarded-proto"] = "https"
	}
	if port := localPort(r); port != "" {
		headers["x-forwarded-port"] = port
	}
	if _, ok := headers["x-amzn-trace-id"]; !ok {
		headers["x-amzn-trace-id"] = newTraceID(meta.Time)
	}

	domain := r.Host
	if h, _, err := net.SplitHostPort(domain); err == nil {
		domain = h
	}
	prefix, _, _ := strings.Cut(domain, ".")
	path := r.URL.Path
	if path == "" {
		path = "/"
	}

	return events.APIGatewayV2HTTPRequest{
		Version:               "2.0",
		RouteKey:              route.Key(),
		RawPath:               path,
		RawQueryString:        r.URL.RawQuery,
		Cookies:               cookies,
		Headers:               headers,
		QueryStringParameters: parseQuery(r.URL.RawQuery),
		PathParameters:        params,
		StageVariables:        cloneMap(route.StageVariables),
		RequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     route.Key(),
			AccountID:    meta.AccountID,
			Stage:        "$default",
			RequestID:    meta.RequestID,
			APIID:        meta.APIID,
			DomainName:   domain,
			DomainPrefix: prefix,
			Time:         meta.Time.UTC().Format(requestTimeLayout),
			TimeEpoch:    meta.Time.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      path,
				Protocol:  r.Proto,
				SourceIP:  sourceIP,
				UserAgent: r.UserAgent(),
			},
		},
	}
}

// eventHeaders lower-cases header names, joins repeated values with "," and
// splits Cookie headers into the separate cookies list.
func eventHeaders(r *http.Request) (map[string]string, []string) {
	headers := make(map[string]string, len(r.Header)+6)
	var cookies []string
	for name, values := range r.Header {
		lname := strings.ToLower(name)
		if lname == "cookie" {
			for _, v := range values {
				for c := range strings.SplitSeq(v, ";") {
					if c = strings.TrimSpace(c); c != "" {
						cookies = append(cookies, c)
					}
				}
			}
			continue
		}
		if prev, ok := headers[lname]; ok {
			headers[lname] = prev + "," + strings.Join(values, ",")
		} else {
			headers[lname] = strings.Join(values, ",")
		}
	}
	if r.Host != "" {
		headers["host"] = r.Host
	}
	if len(r.TransferEncoding) > 0 {
		headers["transfer-encoding"] = strings.Join(r.TransferEncoding, ",")
	}
	return headers, cookies
}

// parseQuery decodes a raw query string into API Gateway's
// queryStringParameters: repeated names are joined with ",", a name without
// "=" has the empty value, and a pair that does not decode is kept as sent.
// It returns nil for an empty query, as API Gateway omits the field.
func parseQuery(raw string) map[string]string {
	if raw == "" {
		return nil
	}
	out := map[string]string{}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if prev, ok := out[k]; ok {
			out[k] = prev + "," + v
		} else {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// encodeBody returns the event body for a request body. HTTP APIs pass the
// body as text only for textual content types (text/*, application/json,
// application/xml, application/javascript); every other body, including one
// without a Content-Type (and application/x-www-form-urlencoded), arrives
// base64-encoded with isBase64Encoded true. A body that is not valid UTF-8 is
// always base64-encoded.
func encodeBody(body []byte, contentType string) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if isTextContentType(contentType) && utf8.Valid(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func isTextContentType(contentType string) bool {
	if contentType == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = strings.ToLower(strings.TrimSpace(strings.SplitN(contentType, ";", 2)[0]))
	}
	switch {
	case strings.HasPrefix(mt, "text/"):
		return true
	case mt == "application/json", mt == "application/xml", mt == "application/javascript":
		return true
	}
	return false
}

// writeResponse writes a handler's response as API Gateway would: status,
// headers, multi-value headers, cookies as Set-Cookie, and the body, decoded
// from base64 when isBase64Encoded. A response API Gateway could not use
// (no valid status, undecodable body) is an error.
func writeResponse(w http.ResponseWriter, resp events.APIGatewayV2HTTPResponse) error {
	if resp.StatusCode < 100 || resp.StatusCode > 599 {
		return fmt.Errorf("invalid statusCode %d in the function's response", resp.StatusCode)
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("isBase64Encoded response body does not decode: %w", err)
		}
	}
	h := w.Header()
	for k, v := range resp.Headers {
		if !hopHeader(k) {
			h.Set(k, v)
		}
	}
	for k, vs := range resp.MultiValueHeaders {
		if hopHeader(k) {
			continue
		}
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	for _, c := range resp.Cookies {
		h.Add("Set-Cookie", c)
	}
	if h.Get("Content-Type") == "" {
		// Do not let net/http guess a type the function did not set.
		h["Content-Type"] = nil
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(body)
	return nil
}

// hopHeader reports headers the gateway sets itself rather than copying from
// a function's response (the body's framing is the gateway's business).
func hopHeader(name string) bool {
	switch strings.ToLower(name) {
	case "content-length", "transfer-encoding", "connection":
		return true
	}
	return false
}

// writeMessage writes one of API Gateway's own responses, e.g.
// 404 {"message":"Not Found"}.
func writeMessage(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = fmt.Fprintf(w, `{"message":%q}`, message)
}

func peerIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

func localPort(r *http.Request) string {
	if addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(addr.String()); err == nil {
			return port
		}
	}
	return ""
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// newRequestID returns an ID shaped like API Gateway's ("Mc7UVioPPHcEKPA=").
func newRequestID() string {
	b := make([]byte, 11)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, the shape of a Lambda request ID.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// newTraceID returns an X-Ray trace header value like the one API Gateway adds.
func newTraceID(now time.Time) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("Root=1-%08x-%s", now.Unix(), hex.EncodeToString(b))
}
