package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/paykeys/paykeys/internal/key"
)

// The change feed: every key write puts, in its own transaction, one short
// item under the partition feedPK whose sort key starts with the write's time
// in milliseconds. Warm authorizers ask it "what changed since my last look"
// with one strongly consistent Query a second and drop those keys from their
// caches, so a change reaches them within about a second whatever their cache
// TTL. Items live for FeedRetention and then TTL removes them.
const (
	feedPK = FeedPartition
	// FeedRetention is how long a feed item is kept. A reader whose last
	// look is older than this cannot trust the feed and must drop its cache.
	FeedRetention = time.Hour
	// feedTimeDigits zero-pads the time so sort keys compare as times do.
	feedTimeDigits = 13
	// feedMaxItems bounds one read of the feed; past it the reader is told the
	// read was incomplete and drops its whole cache instead.
	feedMaxItems = 2000
	// FeedWriteBound is the longest a key write may take, retries included,
	// from the time stamped on its feed entry to its commit, for readers that
	// look back further than this before their previous look to be sure to
	// see it. A write that took longer is announced again (reannounce).
	FeedWriteBound = 5 * time.Second
	// feedReannounceTries bounds the announcements of one slow write.
	feedReannounceTries = 3
	fRevision           = "rev"
	fClientID           = "id"
)

// feedItem is the feed entry for a write of k at now.
func feedItem(k *key.Key, rev int64, now time.Time) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK:    avS(feedPK),
		attrSK:    avS(feedSortKey(now) + "#" + k.ID),
		fClientID: avS(k.ID),
		fRevision: avN(rev),
		attrTTL:   avN(now.Add(FeedRetention).Unix()),
	}
}

// reannounce puts the feed entry of k at rev again, stamped now, while the
// last announcement took longer than FeedWriteBound to commit: a reader that
// looked in between would not look back far enough to see the older stamp.
// The key write has committed by then and must not be reported as failed, so
// this is best effort: if every try fails or is slow, the readers' cache TTL
// is the bound of last resort for this one change.
func (s *Store) reannounce(ctx context.Context, k *key.Key, rev int64, stamped time.Time) {
	for range feedReannounceTries {
		if s.now().Sub(stamped) <= FeedWriteBound {
			return
		}
		stamped = s.now()
		if _, err := s.api.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.table), Item: feedItem(k, rev, stamped)}); err != nil {
			return
		}
	}
}

func feedSortKey(t time.Time) string {
	ms := max(t.UnixMilli(), 0)
	return fmt.Sprintf("%0*d", feedTimeDigits, ms)
}

// Changes returns the feed entries written after since, oldest first. It
// reads with strongly consistent Query pages; complete is false when there
// were more than it reads at once, and the caller must then treat every key
// as changed.
func (s *Store) Changes(ctx context.Context, since time.Time) (changes []key.FeedEntry, complete bool, err error) {
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.table),
		KeyConditionExpression:   aws.String("#pk = :pk AND #sk > :since"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": avS(feedPK), ":since": avS(feedSortKey(since)),
		},
		ProjectionExpression: aws.String("#sk, " + fClientID + ", " + fRevision),
		ConsistentRead:       aws.Bool(true),
	}
	for {
		out, err := s.api.Query(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("store: read change feed: %w", err)
		}
		for _, item := range out.Items {
			c, err := changeFromItem(item)
			if err != nil {
				return nil, false, fmt.Errorf("store: read change feed: %w", err)
			}
			changes = append(changes, c)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return changes, true, nil
		}
		if len(changes) >= feedMaxItems {
			return changes, false, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

func changeFromItem(item map[string]types.AttributeValue) (key.FeedEntry, error) {
	sk, _ := item[attrSK].(*types.AttributeValueMemberS)
	id, _ := item[fClientID].(*types.AttributeValueMemberS)
	rev, _ := item[fRevision].(*types.AttributeValueMemberN)
	if sk == nil || id == nil || rev == nil {
		return key.FeedEntry{}, fmt.Errorf("feed item without sort key, id or revision")
	}
	ms, err := strconv.ParseInt(strings.SplitN(sk.Value, "#", 2)[0], 10, 64)
	if err != nil {
		return key.FeedEntry{}, fmt.Errorf("feed item %q: %w", sk.Value, err)
	}
	r, err := strconv.ParseInt(rev.Value, 10, 64)
	if err != nil {
		return key.FeedEntry{}, fmt.Errorf("feed item %q: revision: %w", sk.Value, err)
	}
	return key.FeedEntry{ClientID: id.Value, Revision: r, At: time.UnixMilli(ms).UTC()}, nil
}
