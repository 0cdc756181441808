package webhook

import (
	"math/rand/v2"
	"net/http"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

func fixed(r float64) func() float64 { return func() float64 { return r } }

func TestNextAttemptSchedule(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration // with rnd 0.5, the middle of the jitter
		ok      bool
	}{
		{-1, 0, true},
		{0, 0, true},
		{1, 5 * time.Second, true},
		{2, 5 * time.Minute, true},
		{3, 30 * time.Minute, true},
		{4, 2 * time.Hour, true},
		{5, 5 * time.Hour, true},
		{6, 10 * time.Hour, true},
		{7, 14 * time.Hour, true},
		{8, 20 * time.Hour, true},
		{9, 24 * time.Hour, true},
		{10, 0, false},
		{11, 0, false},
		{1000, 0, false},
	}
	for _, tt := range tests {
		got, ok := NextAttempt(tt.attempt, now, "", fixed(0.5))
		if ok != tt.ok {
			t.Errorf("attempt %d: ok = %v, want %v", tt.attempt, ok, tt.ok)
			continue
		}
		if ok && got.Sub(now) != tt.want {
			t.Errorf("attempt %d: delay %v, want %v", tt.attempt, got.Sub(now), tt.want)
		}
		if !ok && !got.IsZero() {
			t.Errorf("attempt %d: time %v with no attempts left, want zero", tt.attempt, got)
		}
	}
	if MaxAttempts != 10 {
		t.Errorf("MaxAttempts = %d, want 10", MaxAttempts)
	}
}

func TestNextAttemptJitter(t *testing.T) {
	tests := []struct {
		name    string
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{"lowest", 1, 0, 4500 * time.Millisecond},
		{"highest", 1, 1, 5500 * time.Millisecond},
		{"lowest, last retry", 9, 0, 24 * time.Hour * 9 / 10},
		{"highest, last retry", 9, 1, 24 * time.Hour * 11 / 10},
		{"below range is clamped", 2, -3, 270 * time.Second},
		{"above range is clamped", 2, 7, 330 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := NextAttempt(tt.attempt, now, "", fixed(tt.rnd))
			if d := got.Sub(now); d != tt.want {
				t.Fatalf("delay %v, want %v", d, tt.want)
			}
		})
	}

	// Random draws, including the default source, stay within ±10%.
	r := rand.New(rand.NewPCG(1, 2))
	for _, rnd := range []func() float64{r.Float64, nil} {
		for attempt := 1; attempt < MaxAttempts; attempt++ {
			for range 100 {
				got, _ := NextAttempt(attempt, now, "", rnd)
				d, nominal := got.Sub(now), schedule[attempt]
				if d < nominal*9/10 || d > nominal*11/10 || d < time.Second {
					t.Fatalf("attempt %d: delay %v outside %v ±10%%", attempt, d, nominal)
				}
			}
		}
	}
}

func TestNextAttemptRetryAfter(t *testing.T) {
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	tests := []struct {
		name       string
		attempt    int
		retryAfter string
		want       time.Duration // with rnd 0.5
	}{
		{"empty", 1, "", 5 * time.Second},
		{"seconds, later than the schedule", 1, "120", 2 * time.Minute},
		{"seconds, with spaces", 1, " 120 ", 2 * time.Minute},
		{"seconds, sooner than the schedule", 2, "1", 5 * time.Minute},
		{"zero seconds", 2, "0", 5 * time.Minute},
		{"date, later than the schedule", 1, date(time.Hour), time.Hour},
		{"date, sooner than the schedule", 3, date(time.Minute), 30 * time.Minute},
		{"date in the past", 2, date(-time.Hour), 5 * time.Minute},
		{"RFC 850 date", 1, now.Add(time.Hour).Format("Monday, 02-Jan-06 15:04:05 GMT"), time.Hour},
		{"garbage", 1, "soon", 5 * time.Second},
		{"negative", 1, "-30", 5 * time.Second},
		{"fraction", 1, "1.5", 5 * time.Second},
		{"seconds beyond the cap", 1, "172800", MaxRetryAfter},
		{"seconds overflowing int64", 1, "99999999999999999999999999", MaxRetryAfter},
		{"date beyond the cap", 1, date(72 * time.Hour), MaxRetryAfter},
		{"first attempt ignores it", 0, "120", 0},
		{"cap does not shorten the last retry", 9, "99999999", 24 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NextAttempt(tt.attempt, now, tt.retryAfter, fixed(0.5))
			if !ok {
				t.Fatal("no attempt left")
			}
			if d := got.Sub(now); d != tt.want {
				t.Fatalf("delay %v, want %v", d, tt.want)
			}
		})
	}

	if _, ok := NextAttempt(MaxAttempts, now, "1", fixed(0.5)); ok {
		t.Error("Retry-After gave an attempt beyond the last")
	}
	got, _ := NextAttempt(9, now, "99999999", fixed(1))
	if d := got.Sub(now); d != 24*time.Hour*11/10 {
		t.Errorf("capped Retry-After shortened a jittered 24 h delay to %v", d)
	}
}
