package mongostore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

var zeroTime time.Time

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

// Counts counts the entries since a time, the API calls among them by each
// of classes, and the ticket actions by action.
//
// Each number is its own CountDocuments, except the counts by action: one
// aggregation whose $group has a single accumulator. FerretDB v1.24 computes
// only the first accumulator of a $group correctly (FerretDB issue #4616),
// so no stage here ever has two.
func (s *Store) Counts(ctx context.Context, since time.Time, classes []audit.StatusClass) (audit.Counts, error) {
	c := audit.Counts{ByStatusClass: make(map[string]int64, len(classes))}
	calls := bson.D{{Key: "type", Value: events.TypeAPIRequest}}
	actions := bson.D{{Key: "action", Value: bson.D{{Key: "$exists", Value: true}}}}
	type count struct {
		name   string
		filter bson.D
		dst    *int64
	}
	counts := []count{
		{"entries", bson.D{}, &c.Total},
		{"api calls", calls, &c.Calls},
		{"request actions", actions, &c.Actions},
	}
	byClass := make([]int64, len(classes))
	for i, sc := range classes {
		status := bson.D{{Key: "$gte", Value: sc.From}, {Key: "$lt", Value: sc.To}}
		counts = append(counts, count{
			name:   "api calls " + sc.Name,
			filter: append(bson.D{{Key: "status_code", Value: status}}, calls...),
			dst:    &byClass[i],
		})
	}
	for _, n := range counts {
		v, err := s.events.CountDocuments(ctx, appendTimeRange(n.filter, since, zeroTime))
		if err != nil {
			return audit.Counts{}, fmt.Errorf("count %s: %w", n.name, unavailable(err))
		}
		*n.dst = v
	}
	for i, sc := range classes {
		c.ByStatusClass[sc.Name] = byClass[i]
	}

	byAction, err := s.countByAction(ctx, appendTimeRange(actions, since, zeroTime))
	if err != nil {
		return audit.Counts{}, err
	}
	c.ByAction = byAction
	return c, nil
}

// countByAction counts the entries filter selects by action.
func (s *Store) countByAction(ctx context.Context, filter bson.D) (map[string]int64, error) {
	pipeline := mongo.Pipeline{
		{{Key: "$match", Value: filter}},
		// One accumulator only: see Counts.
		{{Key: "$group", Value: bson.D{
			{Key: "_id", Value: "$action"},
			{Key: "n", Value: bson.D{{Key: "$sum", Value: 1}}},
		}}},
	}
	cur, err := s.events.Aggregate(ctx, pipeline)
	if err != nil {
		return nil, fmt.Errorf("count request actions by action: %w", unavailable(err))
	}
	var rows []struct {
		Action string `bson:"_id"`
		N      int64  `bson:"n"`
	}
	if err := cur.All(ctx, &rows); err != nil {
		return nil, fmt.Errorf("read request actions by action: %w", unavailable(err))
	}
	m := make(map[string]int64, len(rows))
	for _, r := range rows {
		m[r.Action] += r.N
	}
	return m, nil
}

// ProcessTimeAt returns the process time of the API call of the given
// 1-based rank in ascending order of process time, among the calls since a
// time; false when there are fewer calls. The server sorts and skips, so
// only one number crosses the wire, and ties need no tie-breaker: equal
// times give the same answer whichever call holds the rank.
func (s *Store) ProcessTimeAt(ctx context.Context, since time.Time, rank int64) (float64, bool, error) {
	if rank < 1 {
		return 0, false, nil
	}
	filter := appendTimeRange(bson.D{{Key: "type", Value: events.TypeAPIRequest}}, since, zeroTime)
	opts := options.FindOne().
		SetSort(bson.D{{Key: "process_time", Value: 1}}).
		SetSkip(rank - 1).
		SetProjection(bson.D{{Key: "process_time", Value: 1}, {Key: "_id", Value: 0}})
	var doc struct {
		ProcessTime float64 `bson:"process_time"`
	}
	err := s.events.FindOne(ctx, filter, opts).Decode(&doc)
	switch {
	case errors.Is(err, mongo.ErrNoDocuments):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("process time of rank %d: %w", rank, unavailable(err))
	}
	return doc.ProcessTime, true, nil
}
