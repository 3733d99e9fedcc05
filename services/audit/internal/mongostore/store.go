// Package mongostore keeps the audit log in MongoDB (or FerretDB): one
// document per event, keyed by the event id, and one per dead letter.
package mongostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// Collection names.
const (
	EventsCollection      = "events"
	DeadLettersCollection = "dead_letters"
	RollupsCollection     = "rollups"
)

// Store is the MongoDB implementation of audit.Store.
type Store struct {
	entries     *mongo.Collection
	deadLetters *mongo.Collection
	rollups     *mongo.Collection
}

// New returns a Store over db.
func New(db *mongo.Database) *Store {
	return &Store{
		entries:     db.Collection(EventsCollection),
		deadLetters: db.Collection(DeadLettersCollection),
		rollups:     db.Collection(RollupsCollection),
	}
}

// indexes are the indexes of the events collection: the time order, and
// for each filter of the queries that filter plus the time order, so that
// every query is an index range read in the order it returns. Time ties are
// broken by _id, which is why it closes each key.
var indexes = []bson.D{
	{{Key: "time", Value: -1}, {Key: "_id", Value: -1}},                                 // events log, summaries of a period, purge
	{{Key: "call", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},        // API log; events log without it
	{{Key: "type", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},        // events by type
	{{Key: "subject", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},     // events by subject
	{{Key: "actor_id", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},    // every log by user or actor
	{{Key: "action", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},      // request actions
	{{Key: "request_id", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},  // request actions by ticket
	{{Key: "method", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}},      // API log by method
	{{Key: "status_code", Value: 1}, {Key: "time", Value: -1}, {Key: "_id", Value: -1}}, // API log by status
}

// EnsureIndexes creates the indexes the queries need. Creating an index that
// exists is a no-op, so every replica calls it at start-up.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	// One createIndexes command per index: FerretDB v1.24 drops the
	// connection when a single command names several indexes that all exist.
	for _, k := range indexes {
		if _, err := s.entries.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: k}); err != nil {
			return fmt.Errorf("create index on %s: %w", EventsCollection, unavailable(err))
		}
	}
	ri := mongo.IndexModel{Keys: bson.D{{Key: "span", Value: 1}, {Key: "start", Value: 1}}}
	if _, err := s.rollups.Indexes().CreateOne(ctx, ri); err != nil {
		return fmt.Errorf("create index on %s: %w", RollupsCollection, unavailable(err))
	}
	dl := mongo.IndexModel{Keys: bson.D{{Key: "received_at", Value: -1}}}
	if _, err := s.deadLetters.Indexes().CreateOne(ctx, dl); err != nil {
		return fmt.Errorf("create index on %s: %w", DeadLettersCollection, unavailable(err))
	}
	return nil
}

// eventDoc is the stored form of an audit.Entry.
type eventDoc struct {
	ID        string    `bson:"_id"`
	Type      string    `bson:"type"`
	Source    string    `bson:"source"`
	Subject   string    `bson:"subject"`
	Time      time.Time `bson:"time"`
	ActorID   any       `bson:"actor_id,omitempty"` // int64 for a user id, else the string as sent
	ActorRole string    `bson:"actor_role,omitempty"`
	TraceID   string    `bson:"trace_id,omitempty"`
	Action    string    `bson:"action,omitempty"` // absent: not a ticket action
	RequestID int64     `bson:"request_id,omitempty"`
	// The fields of an API call that its log filters on and its summaries
	// count; the rest of the call is in data.
	Call        bool     `bson:"call,omitempty"`
	Method      string   `bson:"method,omitempty"`
	Route       string   `bson:"route,omitempty"`
	StatusCode  int      `bson:"status_code,omitempty"`
	StatusClass string   `bson:"status_class,omitempty"`
	ProcessTime *float64 `bson:"process_time,omitempty"`
	Latency     *float64 `bson:"latency,omitempty"` // rounded: see audit.RoundLatency
	// Weight is what the entry counts for in a summary, when not 1.
	Weight     int64     `bson:"weight,omitempty"`
	Data       bson.Raw  `bson:"data"`
	ReceivedAt time.Time `bson:"received_at"`
}

func toDoc(e audit.Entry) (eventDoc, error) {
	data, err := jsonToBSON(e.Data)
	if err != nil {
		return eventDoc{}, fmt.Errorf("%w: data of event %s: %w", audit.ErrInvalidEvent, e.EventID, err)
	}
	d := eventDoc{
		ID:         e.EventID,
		Type:       e.Type,
		Source:     e.Source,
		Subject:    e.Subject,
		Time:       e.Time,
		ActorRole:  e.ActorRole,
		TraceID:    e.TraceID,
		Action:     e.Action,
		RequestID:  e.RequestID,
		Data:       data,
		ReceivedAt: e.ReceivedAt,
	}
	if e.ActorID != "" {
		d.ActorID = actorValue(e.ActorID)
	}
	if c := e.Call; c != nil {
		d.Call, d.Method, d.Route, d.StatusCode, d.StatusClass = true, c.Method, c.Route, c.StatusCode, c.StatusClass()
		if l, ok := c.Latency(); ok {
			d.ProcessTime, d.Latency = &c.ProcessTime, &l
		}
	}
	if w := e.Weight(); w != 1 {
		d.Weight = w
	}
	return d, nil
}

func fromDoc(d eventDoc) (audit.Entry, error) {
	data, err := bsonToJSON(d.Data)
	if err != nil {
		return audit.Entry{}, fmt.Errorf("data of event %s: %w", d.ID, err)
	}
	e := audit.Entry{
		EventID:    d.ID,
		Type:       d.Type,
		Source:     d.Source,
		Subject:    d.Subject,
		Time:       d.Time.UTC(),
		ActorRole:  d.ActorRole,
		TraceID:    d.TraceID,
		Action:     d.Action,
		RequestID:  d.RequestID,
		Data:       data,
		ReceivedAt: d.ReceivedAt.UTC(),
	}
	// Stored calls were decoded once already; one that no longer decodes
	// is listed without its call rather than failing the page.
	if c, err := audit.CallOf(d.Type, data); err == nil {
		e.Call = c
	}
	switch id := d.ActorID.(type) {
	case nil:
	case string:
		e.ActorID = id
	case int64:
		e.ActorID = strconv.FormatInt(id, 10)
	case int32:
		e.ActorID = strconv.FormatInt(int64(id), 10)
	default:
		e.ActorID = fmt.Sprint(id)
	}
	return e, nil
}

// actorValue is the stored form of an actor id: an int64 for a user id, so
// that it sorts and matches as a number, else the string as sent.
func actorValue(actor string) any {
	if id, err := strconv.ParseInt(actor, 10, 64); err == nil {
		return id
	}
	return actor
}

// SaveBatch inserts the entries with one unordered insert: an event id
// that is stored already is success, reported as not new (a redelivered
// event never makes a second document), and a document the server refuses
// fails alone, for good, without holding back the others. Then it touches
// the minute and hour of every entry older than late, stored now or
// before: without a transaction, an earlier attempt may have stored an
// entry and failed before its touch.
func (s *Store) SaveBatch(ctx context.Context, entries []audit.Entry, late time.Time) ([]audit.Saved, error) {
	out, err := s.insertMany(ctx, entries)
	if err != nil {
		return nil, err
	}
	var times []time.Time
	for _, e := range entries {
		if e.Time.Before(late) {
			times = append(times, e.Time)
		}
	}
	if err := s.Touch(ctx, times); err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) insertMany(ctx context.Context, entries []audit.Entry) ([]audit.Saved, error) {
	out := make([]audit.Saved, len(entries))
	docs := make([]any, 0, len(entries))
	index := make([]int, 0, len(entries)) // docs[k] is entries[index[k]]
	for i, e := range entries {
		d, err := toDoc(e)
		if err != nil {
			out[i].Err = err
			continue
		}
		out[i].New = true
		docs = append(docs, d)
		index = append(index, i)
	}
	if len(docs) == 0 {
		return out, nil
	}
	_, err := s.entries.InsertMany(ctx, docs, options.InsertMany().SetOrdered(false))
	if err == nil {
		return out, nil
	}
	var bwe mongo.BulkWriteException
	if !errors.As(err, &bwe) || bwe.WriteConcernError != nil || len(bwe.WriteErrors) == 0 {
		return nil, fmt.Errorf("insert %d events: %w", len(docs), unavailable(err))
	}
	for _, we := range bwe.WriteErrors {
		if we.Index < 0 || we.Index >= len(index) {
			return nil, fmt.Errorf("insert %d events: write error for document %d: %w", len(docs), we.Index, err)
		}
		i := index[we.Index]
		if we.Code == codeDuplicateKey {
			out[i].New = false
			continue
		}
		out[i] = audit.Saved{Err: fmt.Errorf("%w: insert event %s: %s (code %d)", audit.ErrInvalidEvent, entries[i].EventID, we.Message, we.Code)}
	}
	return out, nil
}

// codeDuplicateKey is the server's code for an insert of an _id that is
// stored already.
const codeDuplicateKey = 11000

// deadLetterDoc is the stored form of an audit.DeadLetter.
type deadLetterDoc struct {
	Subject    string    `bson:"subject"`
	Reason     string    `bson:"reason"`
	Data       string    `bson:"data"`
	EventID    string    `bson:"event_id,omitempty"`
	ReceivedAt time.Time `bson:"received_at"`
}

// SaveDeadLetter inserts d. The message is kept as a string, with bytes that
// are not UTF-8 replaced, since BSON strings must be UTF-8.
func (s *Store) SaveDeadLetter(ctx context.Context, d audit.DeadLetter) error {
	doc := deadLetterDoc{
		Subject:    d.Subject,
		Reason:     d.Reason,
		Data:       strings.ToValidUTF8(string(d.Data), "\uFFFD"),
		EventID:    d.EventID,
		ReceivedAt: d.ReceivedAt,
	}
	if _, err := s.deadLetters.InsertOne(ctx, doc); err != nil {
		return fmt.Errorf("insert dead letter from %s: %w", d.Subject, unavailable(err))
	}
	return nil
}

// unavailable marks err as fault.Unavailable when it says the database could
// not be reached in time, so that clients get 503 rather than 500.
func unavailable(err error) error {
	if mongo.IsTimeout(err) || mongo.IsNetworkError(err) {
		return &fault.Error{Kind: fault.Unavailable, Code: "database_unavailable",
			Detail: "The log database is unavailable; try again later", Err: err}
	}
	return err
}
