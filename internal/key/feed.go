package key

import "time"

// FeedEntry is one entry of the change feed: the key with this client ID was
// written at Revision, at At. Caches of keys drop their copy of the key (and
// anything they derived from it) when they see an entry newer than it.
type FeedEntry struct {
	ClientID string
	Revision int64
	At       time.Time
}
