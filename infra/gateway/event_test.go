package main

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

func TestBuildEvent(t *testing.T) {
	route := Route{Method: "GET", Path: "/v1/keys/{id}/usage", Function: "keys", API: "ManagementApi",
		StageVariables: map[string]string{"environment": "test"}}
	r := httptest.NewRequest("GET", "http://127.0.0.1:3000/v1/keys/ck%5Ftest%5Fabc/usage?from=2026-11-01&to=2026-11-23&tag=a&tag=b%20c&flag", nil)
	r.RemoteAddr = "198.51.100.7:54321"
	r.Header.Set("User-Agent", "curl/8.5.0")
	r.Header.Set("Authorization", "Bearer x")
	r.Header.Add("X-Multi", "one")
	r.Header.Add("X-Multi", "two")
	r.Header.Set("X-Forwarded-For", "203.0.113.9")
	r.Header.Add("Cookie", "a=1; b=2")
	r.Header.Add("Cookie", "c=3")
	now := time.Date(2026, 11, 23, 10, 0, 0, 123e6, time.UTC)

	ev := buildEvent(r, route, map[string]string{"id": "ck_test_abc"}, eventMeta{
		RequestID: "Mc7UVioPPHcEKPA=", Time: now, AccountID: "123456789012", APIID: "managementapi",
	})

	checks := []struct {
		name string
		got  any
		want any
	}{
		{"version", ev.Version, "2.0"},
		{"routeKey", ev.RouteKey, "GET /v1/keys/{id}/usage"},
		{"rawPath (decoded, as HTTP APIs send it)", ev.RawPath, "/v1/keys/ck_test_abc/usage"},
		{"rawQueryString (as sent)", ev.RawQueryString, "from=2026-11-01&to=2026-11-23&tag=a&tag=b%20c&flag"},
		{"queryStringParameters", ev.QueryStringParameters, map[string]string{"from": "2026-11-01", "to": "2026-11-23", "tag": "a,b c", "flag": ""}},
		{"pathParameters", ev.PathParameters, map[string]string{"id": "ck_test_abc"}},
		{"stageVariables", ev.StageVariables, map[string]string{"environment": "test"}},
		{"cookies", ev.Cookies, []string{"a=1", "b=2", "c=3"}},
		{"header lower-cased", ev.Headers["authorization"], "Bearer x"},
		{"repeated header joined", ev.Headers["x-multi"], "one,two"},
		{"host header", ev.Headers["host"], "127.0.0.1:3000"},
		{"x-forwarded-for appends the peer", ev.Headers["x-forwarded-for"], "203.0.113.9, 198.51.100.7"},
		{"x-forwarded-proto", ev.Headers["x-forwarded-proto"], "http"},
		{"body empty", ev.Body, ""},
		{"isBase64Encoded", ev.IsBase64Encoded, false},
		{"rc.routeKey", ev.RequestContext.RouteKey, "GET /v1/keys/{id}/usage"},
		{"rc.accountId", ev.RequestContext.AccountID, "123456789012"},
		{"rc.apiId", ev.RequestContext.APIID, "managementapi"},
		{"rc.domainName", ev.RequestContext.DomainName, "127.0.0.1"},
		{"rc.stage", ev.RequestContext.Stage, "$default"},
		{"rc.requestId", ev.RequestContext.RequestID, "Mc7UVioPPHcEKPA="},
		{"rc.time", ev.RequestContext.Time, "23/Nov/2026:10:00:00 +0000"},
		{"rc.timeEpoch", ev.RequestContext.TimeEpoch, now.UnixMilli()},
		{"rc.http.method", ev.RequestContext.HTTP.Method, "GET"},
		{"rc.http.path", ev.RequestContext.HTTP.Path, "/v1/keys/ck_test_abc/usage"},
		{"rc.http.protocol", ev.RequestContext.HTTP.Protocol, "HTTP/1.1"},
		{"rc.http.sourceIp is the TCP peer, not X-Forwarded-For", ev.RequestContext.HTTP.SourceIP, "198.51.100.7"},
		{"rc.http.userAgent", ev.RequestContext.HTTP.UserAgent, "curl/8.5.0"},
		{"no authorizer before auth", ev.RequestContext.Authorizer, (*events.APIGatewayV2HTTPRequestContextAuthorizerDescription)(nil)},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.name, c.got, c.want)
		}
	}
	if _, ok := ev.Headers["cookie"]; ok {
		t.Error("cookie header should move to cookies")
	}
	for name := range ev.Headers {
		if name != strings.ToLower(name) {
			t.Errorf("header %q is not lower case", name)
		}
	}
	if !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(ev.Headers["x-amzn-trace-id"]) {
		t.Errorf("x-amzn-trace-id = %q", ev.Headers["x-amzn-trace-id"])
	}
	// The route's stage variables must not be shared with the event.
	ev.StageVariables["environment"] = "live"
	if route.StageVariables["environment"] != "test" {
		t.Error("event aliases the route's stage variables")
	}
}

func TestBuildEventIPv6AndNoQuery(t *testing.T) {
	r := httptest.NewRequest("POST", "http://localhost:3000/v1/verify", nil)
	r.RemoteAddr = "[::1]:40000"
	ev := buildEvent(r, Route{Method: "POST", Path: "/v1/verify"}, nil, eventMeta{Time: time.Now()})
	if ev.RequestContext.HTTP.SourceIP != "::1" {
		t.Errorf("sourceIp = %q, want ::1", ev.RequestContext.HTTP.SourceIP)
	}
	if ev.QueryStringParameters != nil || ev.PathParameters != nil || ev.Cookies != nil {
		t.Errorf("empty fields should be nil (omitted): %v %v %v", ev.QueryStringParameters, ev.PathParameters, ev.Cookies)
	}
	if ev.RequestContext.DomainName != "localhost" || ev.RequestContext.DomainPrefix != "localhost" {
		t.Errorf("domain = %q prefix %q", ev.RequestContext.DomainName, ev.RequestContext.DomainPrefix)
	}
}

func TestEncodeBody(t *testing.T) {
	binary := []byte{0xff, 0xfe, 0x00, 0x10}
	tests := []struct {
		name        string
		body        []byte
		contentType string
		wantBody    string
		wantB64     bool
	}{
		{"json", []byte(`{"name":"x"}`), "application/json", `{"name":"x"}`, false},
		{"json with charset", []byte(`{"name":"ü"}`), "application/json; charset=utf-8", `{"name":"ü"}`, false},
		{"text", []byte("hello"), "text/plain", "hello", false},
		{"xml", []byte("<a/>"), "application/xml", "<a/>", false},
		{"javascript", []byte("x()"), "application/javascript", "x()", false},
		{"upper-case type", []byte("{}"), "Application/JSON", "{}", false},
		{"no content type", []byte(`{"a":1}`), "", base64.StdEncoding.EncodeToString([]byte(`{"a":1}`)), true},
		{"form", []byte("a=1"), "application/x-www-form-urlencoded", base64.StdEncoding.EncodeToString([]byte("a=1")), true},
		{"octet-stream", []byte("abc"), "application/octet-stream", "YWJj", true},
		{"binary with json type", binary, "application/json", base64.StdEncoding.EncodeToString(binary), true},
		{"empty", nil, "application/json", "", false},
		{"empty binary type", nil, "image/png", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, b64 := encodeBody(tt.body, tt.contentType)
			if body != tt.wantBody || b64 != tt.wantB64 {
				t.Errorf("encodeBody = %q, %v; want %q, %v", body, b64, tt.wantBody, tt.wantB64)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		raw  string
		want map[string]string
	}{
		{"", nil},
		{"&", nil},
		{"a=1", map[string]string{"a": "1"}},
		{"a=1&a=2&a=3", map[string]string{"a": "1,2,3"}},
		{"a", map[string]string{"a": ""}},
		{"a=&b=x%2Cy", map[string]string{"a": "", "b": "x,y"}},
		{"q=a%20b&q=c+d", map[string]string{"q": "a b,c d"}},
		{"cursor=abc%3D%3D", map[string]string{"cursor": "abc=="}},
		{"bad=%zz", map[string]string{"bad": "%zz"}},
		{"x=1;y=2", map[string]string{"x": "1;y=2"}},
	}
	for _, tt := range tests {
		if got := parseQuery(tt.raw); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseQuery(%q) = %v, want %v", tt.raw, got, tt.want)
		}
	}
}

func TestWriteResponse(t *testing.T) {
	tests := []struct {
		name       string
		resp       events.APIGatewayV2HTTPResponse
		wantErr    bool
		wantStatus int
		wantBody   string
		wantHeader http.Header
	}{
		{
			name:       "json",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 201, Headers: map[string]string{"content-type": "application/json", "x-request-id": "r1"}, Body: `{"ok":true}`},
			wantStatus: 201, wantBody: `{"ok":true}`,
			wantHeader: http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"r1"}},
		},
		{
			name: "base64 body, cookies and multi-value headers",
			resp: events.APIGatewayV2HTTPResponse{
				StatusCode: 200, Body: base64.StdEncoding.EncodeToString([]byte{0, 1, 2}), IsBase64Encoded: true,
				Headers:           map[string]string{"Content-Type": "application/octet-stream"},
				MultiValueHeaders: map[string][]string{"Vary": {"Origin", "Accept"}},
				Cookies:           []string{"a=1; Path=/", "b=2"},
			},
			wantStatus: 200, wantBody: "\x00\x01\x02",
			wantHeader: http.Header{"Content-Type": {"application/octet-stream"}, "Vary": {"Origin", "Accept"}, "Set-Cookie": {"a=1; Path=/", "b=2"}},
		},
		{
			name:       "no content type is not guessed",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: `{"a":1}`},
			wantStatus: 200, wantBody: `{"a":1}`, wantHeader: http.Header{},
		},
		{
			name:       "framing headers are the gateway's",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 200, Headers: map[string]string{"Content-Length": "999", "Content-Type": "text/plain"}, Body: "hi"},
			wantStatus: 200, wantBody: "hi", wantHeader: http.Header{"Content-Type": {"text/plain"}},
		},
		{
			name:       "204",
			resp:       events.APIGatewayV2HTTPResponse{StatusCode: 204},
			wantStatus: 204, wantHeader: http.Header{},
		},
		{name: "zero status", resp: events.APIGatewayV2HTTPResponse{Body: "x"}, wantErr: true},
		{name: "bad base64", resp: events.APIGatewayV2HTTPResponse{StatusCode: 200, Body: "%%%", IsBase64Encoded: true}, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := writeResponse(rec, tt.resp)
			if tt.wantErr {
				if err == nil {
					t.Fatal("want an error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			res := rec.Result()
			if res.StatusCode != tt.wantStatus || rec.Body.String() != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", res.StatusCode, rec.Body.String(), tt.wantStatus, tt.wantBody)
			}
			for k, v := range tt.wantHeader {
				if got := res.Header.Values(k); !reflect.DeepEqual(got, v) {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if len(tt.wantHeader) == 0 && res.Header.Get("Content-Type") != "" {
				t.Errorf("content-type = %q, want none", res.Header.Get("Content-Type"))
			}
			if res.Header.Get("Content-Length") == "999" {
				t.Error("function's Content-Length was copied")
			}
		})
	}
}

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id := newRequestID()
		if len(id) != 16 || seen[id] {
			t.Fatalf("request id %q is not a fresh 16-character id", id)
		}
		seen[id] = true
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(newUUID()) {
		t.Error("newUUID is not a version 4 UUID")
	}
}
