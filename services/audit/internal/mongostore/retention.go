package mongostore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// TTLIndexName names the TTL index on the event time, so that it can be
// found and replaced when the retention period changes.
const TTLIndexName = "time_ttl"

// Server error codes the retention set-up tells apart.
const (
	codeNamespaceNotFound     = 26
	codeIndexNotFound         = 27
	codeIndexOptionsConflict  = 85
	codeIndexKeySpecsConflict = 86
)

// indexView is the part of mongo.IndexView that the retention set-up uses;
// a test fakes it to play a server that honours TTL indexes, which FerretDB
// does not.
type indexView interface {
	CreateOne(ctx context.Context, model mongo.IndexModel, opts ...options.Lister[options.CreateIndexesOptions]) (string, error)
	ListSpecifications(ctx context.Context, opts ...options.Lister[options.ListIndexesOptions]) ([]mongo.IndexSpecification, error)
	DropOne(ctx context.Context, name string, opts ...options.Lister[options.DropIndexesOptions]) error
}

// EnsureRetention sets up the removal of the entries whose event time is
// more than keep ago and says how they will go: by a TTL index where the
// server has them (MongoDB), else by a periodic purge (FerretDB), for which
// the caller runs an audit.Purger. A keep of 0 keeps every entry, and drops
// a TTL index an earlier setting left.
func (s *Store) EnsureRetention(ctx context.Context, keep time.Duration) (audit.Retention, error) {
	return ensureRetention(ctx, s.entries.Indexes(), keep)
}

// ttlIndex is the TTL index that removes the entries of events older than
// keep.
func ttlIndex(keep time.Duration) mongo.IndexModel {
	return mongo.IndexModel{
		Keys:    bson.D{{Key: "time", Value: 1}},
		Options: options.Index().SetName(TTLIndexName).SetExpireAfterSeconds(int32(keep / time.Second)),
	}
}

// ensureRetention decides, and says, how old entries go. Support for TTL
// indexes is detected, not assumed: a server may refuse the option (FerretDB
// v1.24 answers NotImplemented) or accept the index and drop the option, so
// the index is read back and counts only if it kept expireAfterSeconds.
func ensureRetention(ctx context.Context, iv indexView, keep time.Duration) (audit.Retention, error) {
	if keep <= 0 {
		if err := dropTTLIndex(ctx, iv); err != nil {
			return 0, err
		}
		return audit.KeepForever, nil
	}
	secs := int64(keep / time.Second)
	if secs < 1 || secs > math.MaxInt32 {
		return 0, fmt.Errorf("retention %v is not between 1s and %d seconds", keep, math.MaxInt32)
	}
	_, err := iv.CreateOne(ctx, ttlIndex(keep))
	if hasCode(err, codeIndexOptionsConflict, codeIndexKeySpecsConflict) {
		// The index of an earlier retention period: replace it.
		if err := dropTTLIndex(ctx, iv); err != nil {
			return 0, err
		}
		_, err = iv.CreateOne(ctx, ttlIndex(keep))
	}
	if err != nil {
		if refused(err) {
			return audit.ByPurge, nil
		}
		return 0, fmt.Errorf("create TTL index: %w", unavailable(err))
	}
	specs, err := iv.ListSpecifications(ctx)
	if err != nil {
		return 0, fmt.Errorf("list indexes: %w", unavailable(err))
	}
	for _, sp := range specs {
		if sp.Name == TTLIndexName && sp.ExpireAfterSeconds != nil && int64(*sp.ExpireAfterSeconds) == secs {
			return audit.ByTTL, nil
		}
	}
	return audit.ByPurge, nil
}

// dropTTLIndex drops the TTL index, if there is one.
func dropTTLIndex(ctx context.Context, iv indexView) error {
	err := iv.DropOne(ctx, TTLIndexName)
	// No such index, or no collection yet: nothing to drop.
	if err == nil || hasCode(err, codeIndexNotFound, codeNamespaceNotFound) {
		return nil
	}
	return fmt.Errorf("drop TTL index: %w", unavailable(err))
}

// hasCode reports whether the server answered err with one of codes.
func hasCode(err error, codes ...int) bool {
	var se mongo.ServerError
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.HasErrorCode(c) {
			return true
		}
	}
	return false
}

// refused reports whether err is the server's answer (it is reachable and
// said no), as opposed to the server being unreachable.
func refused(err error) bool {
	if mongo.IsNetworkError(err) || mongo.IsTimeout(err) {
		return false
	}
	var se mongo.ServerError
	return errors.As(err, &se)
}

// NthOldest returns the event time of the n-th oldest entry (1 is the
// oldest), and false when there are fewer than n.
func (s *Store) NthOldest(ctx context.Context, n int) (time.Time, bool, error) {
	docs, err := oneBatch[struct {
		Time time.Time `bson:"time"`
	}](ctx, s.entries.Database(), bson.D{
		{Key: "find", Value: EventsCollection},
		{Key: "filter", Value: bson.D{}},
		{Key: "sort", Value: bson.D{{Key: "time", Value: 1}, {Key: "_id", Value: 1}}},
		{Key: "projection", Value: bson.D{{Key: "time", Value: 1}}},
		{Key: "skip", Value: int64(max(n, 1) - 1)},
		{Key: "limit", Value: int64(1)},
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("find the %d-th oldest entry: %w", n, unavailable(err))
	}
	if len(docs) == 0 {
		return time.Time{}, false, nil
	}
	return docs[0].Time, true, nil
}

// DeleteBefore deletes the entries of events older than t and returns how
// many it deleted, with the rollups of the stretches they filled: those
// wholly before t go, and the minute and hour t falls in are touched. Only the retention purge
// calls it: no query or route of the service changes or removes an entry.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.entries.DeleteMany(ctx, bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: t}}}})
	if err != nil {
		return 0, fmt.Errorf("delete entries before %s: %w", t.Format(time.RFC3339), unavailable(err))
	}
	for _, span := range []time.Duration{time.Minute, time.Hour} {
		whole := bson.D{{Key: "span", Value: int(span / time.Second)}, {Key: "start", Value: bson.D{{Key: "$lte", Value: t.UTC().Add(-span)}}}}
		if _, err := s.rollups.DeleteMany(ctx, whole); err != nil {
			return 0, fmt.Errorf("delete rollups before %s: %w", t.Format(time.RFC3339), unavailable(err))
		}
	}
	if err := s.Touch(ctx, []time.Time{t}); err != nil {
		return 0, err
	}
	return res.DeletedCount, nil
}
