// Package webhook holds the pieces a delivery worker needs to send webhook
// events (README: Webhooks; the OpenAPI document's webhooks): Standard Webhooks signing secrets and signatures, the
// retry schedule, the classification of one attempt's outcome, and an HTTP
// sender that refuses private, loopback, link-local and other internal
// destinations, checked on the address actually dialled.
//
// The package has no AWS dependencies and never logs.
package webhook
