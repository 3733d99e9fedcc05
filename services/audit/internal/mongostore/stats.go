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

// Summarize summarises the entries with from <= time < to, from the fields
// each entry's document derived when it was stored (call, status_class,
// action, latency, weight), grouped by the server: one row per combination
// leaves it, not one per entry.
//
// Each $group has a single accumulator: FerretDB v1.24 computes only the
// first accumulator of a $group correctly (FerretDB issue #4616). So the
// entries that count once and the aggregates, which carry a weight, are
// grouped apart.
func (s *Store) Summarize(ctx context.Context, from, to time.Time) (audit.Summary, error) {
	sum := audit.NewSummary()
	key := bson.D{
		{Key: "call", Value: "$call"},
		{Key: "class", Value: "$status_class"},
		{Key: "action", Value: "$action"},
		{Key: "latency", Value: "$latency"},
	}
	for _, part := range []struct {
		weighted bool
		n        any
	}{{false, 1}, {true, "$weight"}} {
		match := appendTimeRange(bson.D{{Key: "weight", Value: bson.D{{Key: "$exists", Value: part.weighted}}}}, from, to)
		pipeline := mongo.Pipeline{
			{{Key: "$match", Value: match}},
			{{Key: "$group", Value: bson.D{{Key: "_id", Value: key}, {Key: "n", Value: bson.D{{Key: "$sum", Value: part.n}}}}}},
		}
		type row struct {
			Key struct {
				Call    bool     `bson:"call"`
				Class   string   `bson:"class"`
				Action  string   `bson:"action"`
				Latency *float64 `bson:"latency"`
			} `bson:"_id"`
			N int64 `bson:"n"`
		}
		rows, err := oneBatch[row](ctx, s.entries.Database(), bson.D{
			{Key: "aggregate", Value: EventsCollection}, {Key: "pipeline", Value: pipeline}})
		if err != nil {
			return audit.Summary{}, fmt.Errorf("summarise entries: %w", unavailable(err))
		}
		for _, r := range rows {
			sum.Total += r.N
			if r.Key.Action != "" {
				sum.Actions += r.N
				sum.ByAction[r.Key.Action] += r.N
			}
			if r.Key.Call {
				sum.Calls += r.N
				sum.ByStatusClass[r.Key.Class] += r.N
				if r.Key.Latency != nil {
					sum.Latency[*r.Key.Latency] += r.N
				}
			}
		}
	}
	return sum, nil
}

// rollupDoc is the stored form of an audit.Rollup: one document per
// minute or hour, keyed by its span and start.
type rollupDoc struct {
	ID      string      `bson:"_id"` // span in seconds / start, RFC 3339
	Span    int         `bson:"span"`
	Start   time.Time   `bson:"start"`
	Gen     int64       `bson:"gen"`
	Summary *summaryDoc `bson:"summary,omitempty"`
	SumGen  int64       `bson:"sum_gen"`
}

func rollupID(span int, start time.Time) string {
	return fmt.Sprintf("%d/%s", span, start.UTC().Format(time.RFC3339))
}

type summaryDoc struct {
	Total    int64            `bson:"total"`
	Calls    int64            `bson:"calls"`
	Actions  int64            `bson:"actions"`
	ByClass  map[string]int64 `bson:"by_status_class"`
	ByAction map[string]int64 `bson:"by_action"`
	Seconds  []float64        `bson:"latency_s"` // the rounded process times,
	Counts   []int64          `bson:"latency_n"` // and how many calls took each
}

// Rollups returns the stored rollups of span that start in [from, to).
func (s *Store) Rollups(ctx context.Context, span time.Duration, from, to time.Time) ([]audit.Rollup, error) {
	filter := bson.D{
		{Key: "span", Value: int(span / time.Second)},
		{Key: "start", Value: bson.D{{Key: "$gte", Value: from.UTC()}, {Key: "$lt", Value: to.UTC()}}},
	}
	docs, err := oneBatch[rollupDoc](ctx, s.rollups.Database(), bson.D{
		{Key: "find", Value: RollupsCollection}, {Key: "filter", Value: filter}})
	if err != nil {
		return nil, fmt.Errorf("find rollups: %w", unavailable(err))
	}
	out := make([]audit.Rollup, len(docs))
	for i, d := range docs {
		out[i] = audit.Rollup{Span: span, Start: d.Start.UTC(), Gen: d.Gen, SumGen: d.SumGen}
		if d.Summary != nil {
			sum := audit.NewSummary()
			sum.Total, sum.Calls, sum.Actions = d.Summary.Total, d.Summary.Calls, d.Summary.Actions
			for k, n := range d.Summary.ByClass {
				sum.ByStatusClass[k] = n
			}
			for k, n := range d.Summary.ByAction {
				sum.ByAction[k] = n
			}
			for j, v := range d.Summary.Seconds {
				if j < len(d.Summary.Counts) {
					sum.Latency[v] += d.Summary.Counts[j]
				}
			}
			out[i].Summary = &sum
		}
	}
	return out, nil
}

// SaveRollup stores r's summary, on the condition that the generation of
// its stretch is still r.Gen: a single-document update, so the check and
// the write are one. A generation that moved on stores nothing.
func (s *Store) SaveRollup(ctx context.Context, r audit.Rollup) error {
	if r.Summary == nil {
		return nil
	}
	sd := &summaryDoc{
		Total: r.Summary.Total, Calls: r.Summary.Calls, Actions: r.Summary.Actions,
		ByClass: r.Summary.ByStatusClass, ByAction: r.Summary.ByAction,
	}
	for v, n := range r.Summary.Latency {
		sd.Seconds, sd.Counts = append(sd.Seconds, v), append(sd.Counts, n)
	}
	span := int(r.Span / time.Second)
	filter := bson.D{{Key: "_id", Value: rollupID(span, r.Start)}, {Key: "gen", Value: r.Gen}}
	update := bson.D{{Key: "$set", Value: bson.D{
		{Key: "span", Value: span}, {Key: "start", Value: r.Start.UTC()},
		{Key: "summary", Value: sd}, {Key: "sum_gen", Value: r.Gen},
	}}}
	_, err := s.rollups.UpdateOne(ctx, filter, update, options.UpdateOne().SetUpsert(true))
	switch {
	case err == nil:
		return nil
	case mongo.IsDuplicateKeyError(err):
		// The stretch exists at another generation: the upsert found no
		// match and could not insert. The summary is out of date.
		return nil
	}
	return fmt.Errorf("save rollup: %w", unavailable(err))
}

// Touch moves on the generation of the minute and the hour of each time.
func (s *Store) Touch(ctx context.Context, times []time.Time) error {
	done := map[string]bool{}
	for _, t := range times {
		for _, span := range []time.Duration{time.Minute, time.Hour} {
			start := t.UTC().Truncate(span)
			id := rollupID(int(span/time.Second), start)
			if done[id] {
				continue
			}
			done[id] = true
			_, err := s.rollups.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
				bson.D{
					{Key: "$inc", Value: bson.D{{Key: "gen", Value: int64(1)}}},
					{Key: "$set", Value: bson.D{{Key: "span", Value: int(span / time.Second)}, {Key: "start", Value: start}}},
				}, options.UpdateOne().SetUpsert(true))
			if err != nil {
				return fmt.Errorf("touch rollup %s: %w", id, unavailable(err))
			}
		}
	}
	return nil
}
