package key

// Actor is who asks, as the management API's JWT says.
type Actor struct {
	Subject    string
	MerchantID string
	Role       string
	SourceIP   string
	RequestID  string
}
