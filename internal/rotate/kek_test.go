package rotate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/paykeys/paykeys/internal/secret"
)

func TestParseRequest(t *testing.T) {
	tests := []struct {
		detail string
		want   Request
		bad    bool
	}{
		{detail: ``},
		{detail: `null`},
		{detail: `{}`},
		{detail: `{"rotate_kek":true}`, want: Request{RotateKEK: true}},
		{detail: `{"rotate_kek":false}`},
		{detail: `{"rotate_kek":"yes"}`, bad: true},
		{detail: `{"rotatekek":true}`, bad: true},
		{detail: `[]`, bad: true},
		{detail: `"rotate_kek"`, bad: true},
	}
	for _, tt := range tests {
		got, err := ParseRequest(events.EventBridgeEvent{Detail: json.RawMessage(tt.detail)})
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("ParseRequest(%s) = %+v, %v; want %+v, error %v", tt.detail, got, err, tt.want, tt.bad)
		}
	}
}

// fakeKEKs records what it was asked and answers with err.
type fakeKEKs struct {
	asked []time.Duration
	err   error
}

func (f *fakeKEKs) RotateKEK(_ context.Context, olderThan time.Duration) ([]secret.KEKRotation, error) {
	f.asked = append(f.asked, olderThan)
	r := secret.KEKRotation{Requested: secret.RotateOnSchedule}
	if olderThan == 0 {
		r.Requested = secret.RotateOnRequest
	}
	r.Rotated = f.err == nil
	return []secret.KEKRotation{r}, f.err
}

func TestKEKRotationTriggers(t *testing.T) {
	year := 365 * 24 * time.Hour
	tests := []struct {
		name    string
		maxAge  time.Duration
		request bool
		err     error
		asked   []time.Duration // what RotateKEK was asked; nil: not called
		fails   bool
	}{
		{name: "off", maxAge: 0},
		{name: "schedule", maxAge: year, asked: []time.Duration{year}},
		{name: "request", request: true, asked: []time.Duration{0}},
		{name: "request beats schedule", maxAge: year, request: true, asked: []time.Duration{0}},
		{name: "refused request", request: true, err: secret.ErrRewrapPending, asked: []time.Duration{0}, fails: true},
		{name: "failed schedule", maxAge: year, err: errors.New("down"), asked: []time.Duration{year}, fails: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := &fakeKEKs{err: tt.err}
			j := New(emptyStore{}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
			j.KEKs, j.KEKMaxAge = k, tt.maxAge
			st, err := j.RunRequest(context.Background(), Request{RotateKEK: tt.request})
			if (err != nil) != tt.fails {
				t.Errorf("error %v, want failure %v", err, tt.fails)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("error %v does not carry %v", err, tt.err)
			}
			if len(k.asked) != len(tt.asked) || len(k.asked) > 0 && k.asked[0] != tt.asked[0] {
				t.Errorf("asked %v, want %v", k.asked, tt.asked)
			}
			if st.Pages != 1 {
				t.Errorf("the scheduled work did not run (pages %d)", st.Pages)
			}
			if (len(st.KEK) == 1) != (tt.asked != nil) {
				t.Errorf("stats kek_rotation %+v", st.KEK)
			}
		})
	}
}

func TestKEKRequestWithoutEnvelope(t *testing.T) {
	j := New(emptyStore{}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	if _, err := j.RunRequest(context.Background(), Request{RotateKEK: true}); !errors.Is(err, secret.ErrNoEnvelope) {
		t.Errorf("error %v, want ErrNoEnvelope", err)
	}
}

// TestHandleKEKEvent decodes the operator's sample event (make kek-rotate)
// and checks it reaches the rotation as a request.
func TestHandleKEKEvent(t *testing.T) {
	ev := sampleEvent(t, "with-rotate-kek.json")
	k := &fakeKEKs{}
	j := New(emptyStore{}, nil, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	j.KEKs = k
	st, err := j.Handle(context.Background(), ev)
	if err != nil || len(k.asked) != 1 || k.asked[0] != 0 || len(st.KEK) != 1 || !st.KEK[0].Rotated {
		t.Errorf("Handle: %+v, %v; asked %v", st, err, k.asked)
	}
	bad := ev
	bad.Detail = json.RawMessage(`{"rotate":true}`)
	if _, err := j.Handle(context.Background(), bad); err == nil || len(k.asked) != 1 {
		t.Errorf("a mistyped request ran: %v, asked %v", err, k.asked)
	}
}
