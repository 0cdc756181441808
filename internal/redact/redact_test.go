package redact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/paykeys/paykeys/internal/key"
)

type stringer string

func (s stringer) String() string { return string(s) }

func TestHandlerRedactsEverywhere(t *testing.T) {
	sk := key.DefaultBrand.NewSecret(key.NewClientID(key.EnvTest))
	other := key.Brand("acme").NewSecret(key.NewClientID(key.EnvLive)) // another deployment's brand
	unbranded := sk[len("paykeys_"):]                                  // the form before brands
	whsec := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw/d+e3c4V5a0="
	cases := []struct {
		name string
		log  func(*slog.Logger)
	}{
		{"message", func(l *slog.Logger) { l.Info("got " + sk) }},
		{"string attr", func(l *slog.Logger) { l.Info("request", "path", "/v1/keys/"+sk) }},
		{"another brand's secret", func(l *slog.Logger) { l.Info("request", "path", "/v1/keys/"+other+"/reset") }},
		{"unbranded secret", func(l *slog.Logger) { l.Info("request", "path", "/v1/keys/"+unbranded) }},
		{"webhook secret", func(l *slog.Logger) { l.Warn("x", "detail", "secret="+whsec) }},
		{"percent-encoded webhook secret", func(l *slog.Logger) {
			l.Info("x", "query", "s=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw%2Fd%2Be3c4V5a0%3D")
		}},
		{"error attr", func(l *slog.Logger) { l.Error("failed", "error", fmt.Errorf("get %s: %w", sk, errors.New("boom"))) }},
		{"stringer attr", func(l *slog.Logger) { l.Info("x", "v", stringer("k="+sk)) }},
		{"slice attr", func(l *slog.Logger) { l.Info("x", "scopes", []string{"a", sk}) }},
		{"map attr", func(l *slog.Logger) { l.Info("x", "q", map[string]string{"cursor": sk}) }},
		{"group", func(l *slog.Logger) { l.Info("x", slog.Group("req", "path", sk, slog.Group("inner", "v", sk))) }},
		{"With", func(l *slog.Logger) { l.With("path", sk).Info("x") }},
		{"WithGroup then With", func(l *slog.Logger) { l.WithGroup("g").With("path", sk).Info("x", "q", sk) }},
		{"LogAttrs", func(l *slog.Logger) { l.LogAttrs(context.Background(), slog.LevelInfo, "x", slog.String("path", sk)) }},
		{"key", func(l *slog.Logger) { l.Info("x", sk, 1) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			c.log(slog.New(Handler(slog.NewJSONHandler(&buf, nil))))
			out := buf.String()
			for _, s := range []string{sk, other, unbranded, unbranded[:20], whsec, "whsec_MfKQ", sk[:20]} {
				if strings.Contains(out, s) {
					t.Fatalf("log holds a secret: %s", out)
				}
			}
			if !strings.Contains(out, key.Redacted) {
				t.Fatalf("nothing was redacted: %s", out)
			}
		})
	}
}

func TestHandlerKeepsTheRest(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(Handler(slog.NewJSONHandler(&buf, nil)))
	var never *time.Time // a nil pointer whose String method panics
	l.Info("request", "path", "/v1/keys/ck_test_5Vq0000000000000000000", "status", 404, "ok", true,
		"error", errors.New("plain"), "scopes", []string{"payments:read"}, "next", never)
	want := `"msg":"request","path":"/v1/keys/ck_test_5Vq0000000000000000000","status":404,"ok":true,"error":"plain","scopes":["payments:read"],"next":null}`
	if !strings.HasSuffix(strings.TrimSpace(buf.String()), want) {
		t.Fatalf("log = %s\nwant suffix %s", buf.String(), want)
	}
}
