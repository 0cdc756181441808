package api

import (
	"context"
	"time"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/hook"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

type endpointBody struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
	Status      *string   `json:"status"`
}

type endpointSecretBody struct {
	Endpoint      EndpointView `json:"endpoint"`
	SigningSecret string       `json:"signing_secret"`
}

func (h *API) webhookCreate(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b endpointBody
	if _, err := apigw.Decode(req, &b, false); err != nil {
		return apigw.Response{}, err
	}
	switch {
	case b.URL == nil:
		return apigw.Response{}, key.Invalid("url is required")
	case b.Status != nil:
		return apigw.Response{}, key.Invalid("status cannot be set at create; a new endpoint is enabled")
	}
	p := webhooksvc.CreateParams{URL: *b.URL, Description: deref(b.Description)}
	if b.EventTypes != nil {
		p.EventTypes = append([]string{}, *b.EventTypes...)
	}
	e, secret, err := h.Webhooks.Create(ctx, a, p)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(201, endpointSecretBody{endpointViewOf(e, h.Now()), secret}), nil
}

type endpointListBody struct {
	Data       []EndpointView `json:"data"`
	NextCursor *string        `json:"next_cursor"`
}

func (h *API) webhookList(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	n, err := limit(req.QueryStringParameters)
	if err != nil {
		return apigw.Response{}, err
	}
	eps, next, err := h.Webhooks.List(ctx, a, n, req.QueryStringParameters["cursor"])
	if err != nil {
		return apigw.Response{}, err
	}
	out := endpointListBody{Data: make([]EndpointView, len(eps)), NextCursor: cursor(next)}
	for i, e := range eps {
		out.Data[i] = endpointViewOf(e, h.Now())
	}
	return apigw.JSON(200, out), nil
}

func (h *API) webhookGet(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	e, err := h.Webhooks.Get(ctx, a, req.PathParameters["id"])
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, endpointViewOf(e, h.Now())), nil
}

func (h *API) webhookPatch(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b endpointBody
	if _, err := apigw.Decode(req, &b, false); err != nil {
		return apigw.Response{}, err
	}
	e, err := h.Webhooks.Update(ctx, a, req.PathParameters["id"], webhooksvc.Patch{
		URL: b.URL, EventTypes: b.EventTypes, Description: b.Description, Status: b.Status,
	})
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, endpointViewOf(e, h.Now())), nil
}

func (h *API) webhookDelete(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	if err := h.Webhooks.Delete(ctx, a, req.PathParameters["id"]); err != nil {
		return apigw.Response{}, err
	}
	return apigw.NoContent(), nil
}

type rotateBody struct {
	OverlapSeconds *int `json:"overlap_seconds"`
}

func (h *API) webhookRotate(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b rotateBody
	if _, err := apigw.Decode(req, &b, true); err != nil {
		return apigw.Response{}, err
	}
	overlap := hook.DefaultOverlap
	if b.OverlapSeconds != nil {
		var err error
		if overlap, err = hook.OverlapSeconds(*b.OverlapSeconds); err != nil {
			return apigw.Response{}, err
		}
	}
	e, secret, err := h.Webhooks.RotateSecret(ctx, a, req.PathParameters["id"], overlap)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, endpointSecretBody{endpointViewOf(e, h.Now()), secret}), nil
}

type deliveryListBody struct {
	Data       []DeliveryView `json:"data"`
	NextCursor *string        `json:"next_cursor"`
}

func (h *API) webhookDeliveries(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	n, err := limit(req.QueryStringParameters)
	if err != nil {
		return apigw.Response{}, err
	}
	ds, next, err := h.Webhooks.Deliveries(ctx, a, req.PathParameters["id"], n, req.QueryStringParameters["cursor"])
	if err != nil {
		return apigw.Response{}, err
	}
	out := deliveryListBody{Data: make([]DeliveryView, len(ds)), NextCursor: cursor(next)}
	for i, d := range ds {
		out.Data[i] = deliveryViewOf(d)
	}
	return apigw.JSON(200, out), nil
}

func (h *API) webhookRetry(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	return accepted(h.Webhooks.Retry(ctx, a, req.PathParameters["id"], req.PathParameters["delivery_id"]))
}

func (h *API) webhookTest(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	if _, err := apigw.Decode(req, &struct{}{}, true); err != nil {
		return apigw.Response{}, err
	}
	return accepted(h.Webhooks.Test(ctx, a, req.PathParameters["id"]))
}

func accepted(d *hook.Delivery, err error) (apigw.Response, error) {
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(202, deliveryViewOf(d)), nil
}

// EndpointView is an endpoint as the API shows it. It never holds a secret.
type EndpointView struct {
	ID                   string              `json:"id"`
	URL                  string              `json:"url"`
	EventTypes           []string            `json:"event_types"`
	Description          string              `json:"description"`
	Status               hook.EndpointStatus `json:"status"`
	DisabledReason       *string             `json:"disabled_reason"`
	SecretRotationEndsAt *time.Time          `json:"secret_rotation_ends_at"`
	CreatedAt            time.Time           `json:"created_at"`
	UpdatedAt            time.Time           `json:"updated_at"`
}

// endpointViewOf returns e's view at now; an overlap that has ended is not shown.
func endpointViewOf(e *hook.Endpoint, now time.Time) EndpointView {
	v := EndpointView{
		ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description, Status: e.Status,
		CreatedAt: e.CreatedAt.UTC().Truncate(time.Second), UpdatedAt: e.UpdatedAt.UTC().Truncate(time.Second),
	}
	if e.DisabledReason != "" {
		r := e.DisabledReason
		v.DisabledReason = &r
	}
	if t := e.SecretRotationEndsAt; t != nil && now.Before(*t) {
		u := t.UTC().Truncate(time.Second)
		v.SecretRotationEndsAt = &u
	}
	return v
}

// AttemptView is one attempt of a delivery as the API shows it.
type AttemptView struct {
	At             time.Time `json:"at"`
	ResponseStatus int       `json:"response_status"`
	LatencyMS      int64     `json:"latency_ms"`
	Error          string    `json:"error"`
	ResponseBody   string    `json:"response_body"`
}

// DeliveryView is a delivery as the API shows it.
type DeliveryView struct {
	ID            string              `json:"id"`
	EndpointID    string              `json:"endpoint_id"`
	EventType     string              `json:"event_type"`
	Status        hook.DeliveryStatus `json:"status"`
	Attempts      []AttemptView       `json:"attempts"`
	NextAttemptAt *time.Time          `json:"next_attempt_at"`
	CreatedAt     time.Time           `json:"created_at"`
}

// deliveryViewOf returns d's view.
func deliveryViewOf(d *hook.Delivery) DeliveryView {
	v := DeliveryView{
		ID: d.ID, EndpointID: d.EndpointID, EventType: d.EventType, Status: d.Status,
		Attempts: make([]AttemptView, len(d.Attempts)), CreatedAt: d.CreatedAt.UTC(),
	}
	for i, a := range d.Attempts {
		v.Attempts[i] = AttemptView(a)
	}
	if d.Status == hook.DeliveryPending && d.NextAttemptAt != nil {
		t := d.NextAttemptAt.UTC()
		v.NextAttemptAt = &t
	}
	return v
}
