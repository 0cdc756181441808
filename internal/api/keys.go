package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
)

type createBody struct {
	Name         *string    `json:"name"`
	Environment  *string    `json:"environment"`
	Currency     *string    `json:"currency"`
	Scopes       []string   `json:"scopes"`
	AllowedIPs   []string   `json:"allowed_ips"`
	AuthModes    []string   `json:"auth_modes"`
	ExpiresAt    *Timestamp `json:"expires_at"`
	RotationDays *int       `json:"rotation_days"`
}

type issuedBody struct {
	Key    key.View `json:"key"`
	Secret string   `json:"secret"`
}

func (h *API) create(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b createBody
	raw, err := apigw.Decode(req, &b, false)
	if err != nil {
		return apigw.Response{}, err
	}
	if b.Name == nil {
		return apigw.Response{}, key.Invalid("name is required")
	}
	if b.Environment == nil {
		return apigw.Response{}, key.Invalid("environment is required")
	}
	env, err := key.ParseEnvironment(*b.Environment)
	if err != nil {
		return apigw.Response{}, err
	}
	if err := h.Scopes.Check(b.Scopes); err != nil {
		return apigw.Response{}, err
	}
	idem, err := idempotency(req, raw)
	if err != nil {
		return apigw.Response{}, err
	}
	p := key.NewParams{
		Name: *b.Name, Environment: env, Currency: key.Currency(deref(b.Currency)),
		Scopes: b.Scopes, AllowedIPs: b.AllowedIPs, AuthModes: b.AuthModes,
		ExpiresAt: b.ExpiresAt.Time(), RotationDays: b.RotationDays,
	}
	c, err := h.Keys.Create(ctx, a, p, idem)
	if err != nil {
		return apigw.Response{}, err
	}
	resp := apigw.JSON(201, issuedBody{Key: c.Key, Secret: c.Secret})
	if c.Replay {
		resp.Headers["Idempotent-Replayed"] = "true"
	}
	return resp, nil
}

// idempotency reads the Idempotency-Key header; the request is identified by
// the hash of its body's JSON value (members sorted, no spacing, strings
// escaped one way), so formatting does not matter and any other value,
// an explicit null included, is another request.
func idempotency(req apigw.Request, raw []byte) (*keysvc.Idempotency, error) {
	v, ok := header(req, "idempotency-key")
	if !ok {
		return nil, nil
	}
	// Characters, as the OpenAPI document's maxLength counts them; the
	// value is stored as a DynamoDB string, so it must be UTF-8.
	if !utf8.ValidString(v) {
		return nil, key.Invalid("Idempotency-Key must be valid UTF-8")
	}
	if n := utf8.RuneCountInString(v); n < 1 || n > 255 {
		return nil, key.Invalid("Idempotency-Key must be 1..255 characters")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // numbers as written, never rounded through float64
	var value any
	if err := dec.Decode(&value); err != nil {
		return nil, fmt.Errorf("hash request: %w", err)
	}
	canon, err := json.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(canon)
	return &keysvc.Idempotency{Key: v, RequestHash: sum[:]}, nil
}

type listBody struct {
	Data       []key.View `json:"data"`
	NextCursor *string    `json:"next_cursor"`
}

func (h *API) list(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	q := req.QueryStringParameters
	var f key.ListFilter
	var err error
	if v, ok := q["environment"]; ok {
		if f.Environment, err = key.ParseEnvironment(v); err != nil {
			return apigw.Response{}, err
		}
	}
	if v, ok := q["status"]; ok {
		if f.Status, err = key.ParseStatus(v); err != nil {
			return apigw.Response{}, err
		}
	}
	if f.Limit, err = limit(q); err != nil {
		return apigw.Response{}, err
	}
	f.Cursor = q["cursor"]
	keys, next, err := h.Keys.List(ctx, a, f)
	if err != nil {
		return apigw.Response{}, err
	}
	now := h.Now()
	out := listBody{Data: make([]key.View, len(keys)), NextCursor: cursor(next)}
	for i, k := range keys {
		out.Data[i] = k.View(now)
	}
	return apigw.JSON(200, out), nil
}

func (h *API) get(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	k, err := h.Keys.Get(ctx, a, req.PathParameters["id"])
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, k.View(h.Now())), nil
}

func (h *API) patch(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	p, err := decodePatch(req)
	if err != nil {
		return apigw.Response{}, err
	}
	if p.Scopes.Set {
		if err := h.Scopes.Check(p.Scopes.Value); err != nil {
			return apigw.Response{}, err
		}
	}
	k, err := h.Keys.Update(ctx, a, req.PathParameters["id"], p)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, k.View(h.Now())), nil
}

func (h *API) revoke(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	if err := h.Keys.Revoke(ctx, a, req.PathParameters["id"]); err != nil {
		return apigw.Response{}, err
	}
	return apigw.NoContent(), nil
}

type resetBody struct {
	GracePeriodSeconds *int64 `json:"grace_period_seconds"`
}

func (h *API) reset(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b resetBody
	if _, err := apigw.Decode(req, &b, true); err != nil {
		return apigw.Response{}, err
	}
	grace := int64(0)
	if b.GracePeriodSeconds != nil {
		grace = *b.GracePeriodSeconds
	}
	if grace < 0 || grace > int64(key.MaxGracePeriod/time.Second) {
		return apigw.Response{}, key.ValidateGrace(-1)
	}
	issued, err := h.Keys.Reset(ctx, a, req.PathParameters["id"], time.Duration(grace)*time.Second)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, issuedBody{Key: issued.Key.View(h.Now()), Secret: issued.Secret}), nil
}

type verifyBody struct {
	Secret *string `json:"secret"`
}

func (h *API) verify(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	var b verifyBody
	if _, err := apigw.Decode(req, &b, false); err != nil {
		return apigw.Response{}, err
	}
	if b.Secret == nil {
		return apigw.Response{}, key.Invalid("secret is required")
	}
	v, err := h.Keys.Verify(ctx, a, req.PathParameters["id"], *b.Secret)
	if err != nil {
		return apigw.Response{}, err
	}
	return apigw.JSON(200, v), nil
}

type auditBody struct {
	Data       []auditView `json:"data"`
	NextCursor *string     `json:"next_cursor"`
}

type auditView struct {
	ID           string    `json:"id"`
	Actor        string    `json:"actor"`
	Role         string    `json:"role"`
	Action       string    `json:"action"`
	ResourceType string    `json:"resource_type"`
	ResourceID   string    `json:"resource_id"`
	Outcome      string    `json:"outcome"`
	SourceIP     string    `json:"source_ip"`
	RequestID    string    `json:"request_id"`
	CreatedAt    time.Time `json:"created_at"`
	Changes      []string  `json:"changes"` // fields an update touched; [] otherwise
	Count        int       `json:"count"`   // attempts a coalesced refusal stands for; 1 otherwise
}

func (h *API) audit(ctx context.Context, a key.Actor, req apigw.Request) (apigw.Response, error) {
	n, err := limit(req.QueryStringParameters)
	if err != nil {
		return apigw.Response{}, err
	}
	recs, next, err := h.Audit.ListAudit(ctx, a.MerchantID, n, req.QueryStringParameters["cursor"])
	if err != nil {
		return apigw.Response{}, err
	}
	out := auditBody{Data: make([]auditView, len(recs)), NextCursor: cursor(next)}
	for i, r := range recs {
		changes := r.Changes
		if changes == nil {
			changes = []string{}
		}
		out.Data[i] = auditView{r.ID, r.Actor, r.Role, r.Action, r.ResourceType, r.ResourceID,
			r.Outcome, r.SourceIP, r.RequestID, r.CreatedAt.UTC(), changes, max(r.Count, 1)}
	}
	return apigw.JSON(200, out), nil
}

// limit reads the page size: 1..100, default 50.
func limit(q map[string]string) (int, error) {
	v, ok := q["limit"]
	if !ok {
		return key.DefaultListLimit, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > key.MaxListLimit {
		return 0, key.Invalid("limit must be an integer from 1 to %d", key.MaxListLimit)
	}
	return n, nil
}

func cursor(next string) *string {
	if next == "" {
		return nil
	}
	return &next
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
