package key

// Actor is who asks, as the management API's JWT says.
type Actor struct {
	Subject    string
	MerchantID string
	Role       string
	SourceIP   string
	RequestID  string
}

// maxMerchantIDLen bounds a merchant ID.
const maxMerchantIDLen = 64

// ValidMerchantID reports whether s has the shape of a merchant ID, as the
// management API's tokens and the portal's user pool carry it: 1 to 64 of
// A-Z, a-z, 0-9, '_' and '-' (^[A-Za-z0-9_-]{1,64}$).
func ValidMerchantID(s string) bool {
	if len(s) == 0 || len(s) > maxMerchantIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isBase62Byte(c) && c != '_' && c != '-' {
			return false
		}
	}
	return true
}
