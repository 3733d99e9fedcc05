package mongostore

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// newestFirst is the order of every log: time descending, ties broken by
// event id descending, so that paging is stable.
var newestFirst = bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}

// RequestActions returns the entries that record ticket actions (reads
// included) selected by q, newest first, and their total count.
func (s *Store) RequestActions(ctx context.Context, q audit.ActionQuery) ([]audit.Entry, int64, error) {
	filter := bson.D{{Key: "action", Value: bson.D{{Key: "$exists", Value: true}}}}
	if q.Action != "" {
		filter = bson.D{{Key: "action", Value: q.Action}}
	}
	if q.RequestID != 0 {
		filter = append(filter, bson.E{Key: "request_id", Value: q.RequestID})
	}
	if q.ActorID != 0 {
		filter = append(filter, bson.E{Key: "actor_id", Value: q.ActorID})
	}
	filter = appendTimeRange(filter, q.Since, zeroTime)
	return s.page(ctx, "request actions", filter, q.Offset, q.Limit)
}

// Calls returns the entries of API calls selected by q, newest first, and
// their total count.
func (s *Store) Calls(ctx context.Context, q audit.CallQuery) ([]audit.Entry, int64, error) {
	filter := bson.D{{Key: "type", Value: events.TypeAPIRequest}}
	if q.Method != "" {
		filter = append(filter, bson.E{Key: "method", Value: q.Method})
	}
	if q.StatusCode != 0 {
		filter = append(filter, bson.E{Key: "status_code", Value: q.StatusCode})
	}
	if q.ActorID != 0 {
		filter = append(filter, bson.E{Key: "actor_id", Value: q.ActorID})
	}
	filter = appendTimeRange(filter, q.Since, zeroTime)
	return s.page(ctx, "api calls", filter, q.Offset, q.Limit)
}

// Events returns the entries selected by q, newest first, and their total
// count.
func (s *Store) Events(ctx context.Context, q audit.EventQuery) ([]audit.Entry, int64, error) {
	filter := bson.D{}
	switch {
	case q.Type != "":
		filter = append(filter, bson.E{Key: "type", Value: q.Type})
	case q.ExcludeType != "":
		filter = append(filter, bson.E{Key: "type", Value: bson.D{{Key: "$ne", Value: q.ExcludeType}}})
	}
	if q.Subject != "" {
		filter = append(filter, bson.E{Key: "subject", Value: q.Subject})
	}
	if q.ActorID != "" {
		filter = append(filter, bson.E{Key: "actor_id", Value: actorValue(q.ActorID)})
	}
	filter = appendTimeRange(filter, q.Since, q.Until)
	return s.page(ctx, "events", filter, q.Offset, q.Limit)
}

// page returns one page of the entries filter selects, newest first, and
// how many it selects in all.
func (s *Store) page(ctx context.Context, what string, filter bson.D, offset, limit int64) ([]audit.Entry, int64, error) {
	total, err := s.events.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("count %s: %w", what, unavailable(err))
	}
	opts := options.Find().SetSort(newestFirst).SetSkip(offset)
	if limit > 0 {
		opts.SetLimit(limit)
	}
	cur, err := s.events.Find(ctx, filter, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("find %s: %w", what, unavailable(err))
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, fmt.Errorf("read %s: %w", what, unavailable(err))
	}
	entries := make([]audit.Entry, 0, len(docs))
	for _, d := range docs {
		e, err := fromDoc(d)
		if err != nil {
			return nil, 0, err
		}
		entries = append(entries, e)
	}
	return entries, total, nil
}
