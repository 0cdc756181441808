package store

// Partition-key prefixes of the items whose writers IAM tells apart:
// template.yaml grants or denies item writes by dynamodb:LeadingKeys on
// these, so a function that counts a key's use (the authorizer) cannot
// change the key, and no function can change or delete an audit record.
// The test over template.yaml reads them from here.
const (
	// KeyPartitionPrefix starts the partition of a key item (KEY#<client id>).
	KeyPartitionPrefix = "KEY#"
	// UsagePartitionPrefix starts the partition of a key's usage days and
	// last use (USAGE#<client id>).
	UsagePartitionPrefix = "USAGE#"
	// NoncePartitionPrefix starts the partition of an HMAC nonce.
	NoncePartitionPrefix = "NONCE#"
	// AuditPartitionPrefix starts the partition of a merchant's audit
	// records (AUDIT#<merchant id>), which are only ever put, never updated
	// or deleted.
	AuditPartitionPrefix = "AUDIT#"
	// FeedPartition is the change feed's one partition (feed.go).
	FeedPartition = "FEED"
)
