package api

import (
	"context"
	"time"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/store"
	"github.com/paykeys/paykeys/internal/webhooksvc"
)

type endpointBody struct {
	URL         *string   `json:"url"`
	EventTypes  *[]string `json:"event_types"`
	Description *string   `json:"description"`
	Status      *string   `json:"status"`
}

type endpointSecretBody struct {
	Endpoint      webhooksvc.View `json:"endpoint"`
	SigningSecret string          `json:"signing_secret"`
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
	return apigw.JSON(201, endpointSecretBody{webhooksvc.ViewOf(e, h.Now()), secret}), nil
}

type endpointListBody struct {
	Data       []webhooksvc.View `json:"data"`
	NextCursor *string           `json:"next_cursor"`
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
	out := endpointListBody{Data: make([]webhooksvc.View, len(eps)), NextCursor: cursor(next)}
	for i, e := range eps {
		out.Data[i] = webhooksvc.ViewOf(e, h.Now())
	}
	return apigw.JSON(200, out), nil
}

func (h *API) webhookGet(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	e, err := h.Webhooks.Get(ctx, a, req.PathParameters["id"])
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, webhooksvc.ViewOf(e, h.Now())), nil
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
	return apigw.JSON(200, webhooksvc.ViewOf(e, h.Now())), nil
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
	overlap := webhooksvc.DefaultOverlap
	if b.OverlapSeconds != nil {
		if *b.OverlapSeconds < 0 || *b.OverlapSeconds > int(webhooksvc.MaxOverlap.Seconds()) {
			return apigw.Response{}, key.Invalid("overlap_seconds must be 0..%d", int(webhooksvc.MaxOverlap.Seconds()))
		}
		overlap = time.Duration(*b.OverlapSeconds) * time.Second
	}
	e, secret, err := h.Webhooks.RotateSecret(ctx, a, req.PathParameters["id"], overlap)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, endpointSecretBody{webhooksvc.ViewOf(e, h.Now()), secret}), nil
}

type deliveryListBody struct {
	Data       []webhooksvc.DeliveryView `json:"data"`
	NextCursor *string                   `json:"next_cursor"`
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
	out := deliveryListBody{Data: make([]webhooksvc.DeliveryView, len(ds)), NextCursor: cursor(next)}
	for i, d := range ds {
		out.Data[i] = webhooksvc.DeliveryViewOf(d)
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

func accepted(d *store.Delivery, err error) (apigw.Response, error) {
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(202, webhooksvc.DeliveryViewOf(d)), nil
}
