package api

import (
	"context"

	"github.com/paykeys/paykeys/internal/apigw"
	"github.com/paykeys/paykeys/internal/key"
	"github.com/paykeys/paykeys/internal/keysvc"
	"github.com/paykeys/paykeys/internal/leakreport"
)

// errLeakSignature is the 401 of a leak report not signed by a configured key.
var errLeakSignature = &key.PublicError{Kind: apigw.ErrUnauthenticated,
	Msg: "a report signed by a configured key is required (Github-Public-Key-Identifier, Github-Public-Key-Signature)"}

// leaks takes a secret scanner's leak report (README: Leak reports). It has
// no JWT: the report's signature, checked before anything is looked up,
// is its authentication. Each token is acted on before the answer, which
// labels every token in the order reported.
func (h *API) leaks(ctx context.Context, _ key.Actor, req apigw.Request) (apigw.Response, error) {
	raw, err := apigw.Body(req)
	if err != nil {
		return apigw.Response{}, err
	}
	keyID, _ := header(req, leakreport.HeaderKeyID)
	sig, _ := header(req, leakreport.HeaderSignature)
	if err := h.LeakKeys.Verify(keyID, sig, raw); err != nil {
		return apigw.Response{}, errLeakSignature
	}
	var entries []leakreport.Entry
	if err := apigw.Unmarshal(raw, &entries); err != nil {
		return apigw.Response{}, err
	}
	switch {
	case entries == nil:
		return apigw.Response{}, key.Invalid("body must be a JSON array of {token, type, url, source}")
	case len(entries) > leakreport.MaxEntries:
		return apigw.Response{}, key.Invalid("a report holds at most %d tokens", leakreport.MaxEntries)
	}
	leaks := make([]keysvc.Leak, len(entries))
	for i, e := range entries {
		leaks[i] = keysvc.Leak{Token: e.Token, URL: e.URL, Source: e.Source}
	}
	a := key.Actor{SourceIP: req.RequestContext.HTTP.SourceIP, RequestID: req.RequestContext.RequestID}
	ours, err := h.Keys.LeakReport(ctx, a, keyID, leaks)
	if err != nil {
		return apigw.Response{}, err
	}
	answers := make([]leakreport.Answer, len(entries))
	for i, e := range entries {
		answers[i] = leakreport.Answer{TokenRaw: e.Token, TokenType: e.Type, Label: leakreport.FalsePositive}
		if ours[i] {
			answers[i].Label = leakreport.TruePositive
		}
	}
	return apigw.JSON(200, answers), nil
}
