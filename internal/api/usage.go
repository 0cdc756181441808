package api

import (
	"context"
	"errors"
	"time"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
)

// Usage ranges: UTC days, both ends included.
const (
	defaultUsageDays = 30  // when from is not given: the last 30 days up to to
	maxUsageDays     = 366 // the longest range one request may cover
)

type usageBody struct {
	Data []usageDay `json:"data"`
}

type usageDay struct {
	Date    string           `json:"date"`
	Allowed int64            `json:"allowed"`
	Denied  map[string]int64 `json:"denied"`
}

// usage returns one of the actor's keys' decision counts per UTC day, the
// days with activity only, oldest first.
func (h *API) usage(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	from, to, err := usageRange(req.QueryStringParameters, h.Now())
	if err != nil {
		return apigw.Response{}, err
	}
	id := req.PathParameters["id"]
	if _, err := h.Keys.Get(ctx, a, id); err != nil { // another merchant's key is not found
		return apigw.Response{}, err
	}
	if h.Counters == nil {
		return apigw.Response{}, errors.New("usage: no counters configured")
	}
	days, err := h.Counters.ListUsage(ctx, id, from.Format(store.DateLayout), to.Format(store.DateLayout))
	if err != nil {
		return apigw.Response{}, err
	}
	out := usageBody{Data: make([]usageDay, 0, len(days))}
	for _, d := range days {
		denied := d.Denied
		if denied == nil {
			denied = map[string]int64{}
		}
		out.Data = append(out.Data, usageDay{Date: d.Date, Allowed: d.Allowed, Denied: denied})
	}
	return apigw.JSON(200, out), nil
}

// usageRange reads from and to (YYYY-MM-DD, UTC, inclusive). Without to it
// ends today; without from it starts 29 days before to.
func usageRange(q map[string]string, now time.Time) (from, to time.Time, err error) {
	to = now.UTC().Truncate(24 * time.Hour)
	if v, ok := q["to"]; ok {
		if to, err = usageDate("to", v); err != nil {
			return
		}
	}
	from = to.AddDate(0, 0, 1-defaultUsageDays)
	if v, ok := q["from"]; ok {
		if from, err = usageDate("from", v); err != nil {
			return
		}
	}
	switch {
	case from.After(to):
		err = key.Invalid("from (%s) is after to (%s)", from.Format(store.DateLayout), to.Format(store.DateLayout))
	case to.Sub(from) >= maxUsageDays*24*time.Hour:
		err = key.Invalid("from and to may be at most %d days apart, both included", maxUsageDays)
	}
	return
}

func usageDate(name, v string) (time.Time, error) {
	t, err := time.Parse(store.DateLayout, v)
	if err != nil || t.Format(store.DateLayout) != v {
		return time.Time{}, key.Invalid("%s must be a UTC date like 2026-11-23", name)
	}
	return t, nil
}
