package mongostore

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// newestFirst is the order of every log: time descending, ties broken by
// event id descending, so that paging is stable.
var newestFirst = bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}

// filterOf is the filter of q. Each field it filters on leads an index
// that continues with the log's order (see indexes).
func filterOf(q audit.Query) bson.D {
	f := bson.D{}
	switch q.Log {
	case audit.CallEntries:
		f = append(f, bson.E{Key: "call", Value: true})
	case audit.ActionEntries:
		if q.Action == "" {
			f = append(f, bson.E{Key: "action", Value: bson.D{{Key: "$exists", Value: true}}})
		}
	case audit.NotCallEntries:
		f = append(f, bson.E{Key: "call", Value: bson.D{{Key: "$ne", Value: true}}})
	}
	for _, eq := range []struct {
		key string
		set bool
		v   any
	}{
		{"type", q.Type != "", q.Type},
		{"subject", q.Subject != "", q.Subject},
		{"actor_id", q.ActorID != "", actorValue(q.ActorID)},
		{"action", q.Action != "", q.Action},
		{"request_id", q.RequestID != 0, q.RequestID},
		{"method", q.Method != "", q.Method},
		{"status_code", q.StatusCode != 0, q.StatusCode},
	} {
		if eq.set {
			f = append(f, bson.E{Key: eq.key, Value: eq.v})
		}
	}
	return appendTimeRange(f, q.Since, q.Until)
}

// appendTimeRange adds since <= time < until to filter; a zero bound does
// not filter.
func appendTimeRange(filter bson.D, since, until time.Time) bson.D {
	r := bson.D{}
	if !since.IsZero() {
		r = append(r, bson.E{Key: "$gte", Value: since})
	}
	if !until.IsZero() {
		r = append(r, bson.E{Key: "$lt", Value: until})
	}
	if len(r) == 0 {
		return filter
	}
	return append(filter, bson.E{Key: "time", Value: r})
}

// List returns one page of the entries q selects, newest first, and counts
// them up to q.CountUpTo. Every filter leads an index in the log's order,
// so the page is an index range read, and the count reads at most
// CountUpTo index keys. Both carry ctx's deadline to the server (the driver
// sends it as maxTimeMS), so an abandoned query stops there too.
func (s *Store) List(ctx context.Context, q audit.Query) (audit.Listing, error) {
	filter := filterOf(q)
	var l audit.Listing
	if q.CountUpTo > 0 {
		n, err := s.entries.CountDocuments(ctx, filter, options.Count().SetLimit(q.CountUpTo))
		if err != nil {
			return audit.Listing{}, fmt.Errorf("count entries: %w", unavailable(err))
		}
		l.Counted, l.Total = true, n
	}
	if q.After != nil {
		// Strictly after the cursor in the log's order.
		at := q.After.Time.UTC()
		filter = append(filter, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "time", Value: bson.D{{Key: "$lt", Value: at}}}},
			bson.D{{Key: "time", Value: at}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: q.After.EventID}}}},
		}})
	}
	docs, err := s.find(ctx, filter, q.Offset, q.Limit)
	if err != nil {
		return audit.Listing{}, fmt.Errorf("find entries: %w", unavailable(err))
	}
	l.Entries = make([]audit.Entry, 0, len(docs))
	for _, d := range docs {
		e, err := fromDoc(d)
		if err != nil {
			return audit.Listing{}, err
		}
		l.Entries = append(l.Entries, e)
	}
	return l, nil
}

// find runs one find command for a page, newest first.
func (s *Store) find(ctx context.Context, filter bson.D, skip, limit int64) ([]eventDoc, error) {
	cmd := bson.D{
		{Key: "find", Value: EventsCollection},
		{Key: "filter", Value: filter},
		{Key: "sort", Value: newestFirst},
		{Key: "skip", Value: skip},
	}
	if limit > 0 {
		cmd = append(cmd, bson.E{Key: "limit", Value: limit})
	}
	return oneBatch[eventDoc](ctx, s.entries.Database(), cmd)
}

// oneBatch runs a command that answers with a cursor (find or aggregate)
// and returns its results, all from the first batch: no cursor stays open
// on the server. ctx's deadline goes with the command as maxTimeMS (the
// driver adds it to a RunCommand), so that the server stops a query its
// client gave up on; the driver's Find and Aggregate leave maxTimeMS out of
// every command that returns a cursor (DRIVERS-2722), hence the command
// written here. A result larger than one batch fails rather than being cut
// short.
func oneBatch[T any](ctx context.Context, db *mongo.Database, cmd bson.D) ([]T, error) {
	const batch = 100_000
	if cmd[0].Key == "aggregate" {
		cmd = append(cmd, bson.E{Key: "cursor", Value: bson.D{{Key: "batchSize", Value: batch}}})
	} else {
		cmd = append(cmd, bson.E{Key: "batchSize", Value: batch}, bson.E{Key: "singleBatch", Value: true})
	}
	var reply struct {
		Cursor struct {
			ID         int64 `bson:"id"`
			FirstBatch []T   `bson:"firstBatch"`
		} `bson:"cursor"`
	}
	if err := db.RunCommand(ctx, cmd).Decode(&reply); err != nil {
		return nil, err
	}
	if reply.Cursor.ID != 0 {
		return nil, fmt.Errorf("%s: more than %d results", cmd[0].Key, batch)
	}
	return reply.Cursor.FirstBatch, nil
}

// Scan returns up to limit entries in event id order, from the first id
// after after ("" starts at the beginning): a walk over the whole store,
// for copying it into another (`audit import`).
func (s *Store) Scan(ctx context.Context, after string, limit int64) ([]audit.Entry, error) {
	filter := bson.D{}
	if after != "" {
		filter = bson.D{{Key: "_id", Value: bson.D{{Key: "$gt", Value: after}}}}
	}
	cur, err := s.entries.Find(ctx, filter, options.Find().SetSort(bson.D{{Key: "_id", Value: 1}}).SetLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("scan entries: %w", unavailable(err))
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, fmt.Errorf("scan entries: %w", unavailable(err))
	}
	out := make([]audit.Entry, 0, len(docs))
	for _, d := range docs {
		e, err := fromDoc(d)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
