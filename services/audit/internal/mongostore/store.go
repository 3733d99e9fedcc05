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
)

// Store is the MongoDB implementation of audit.Store.
type Store struct {
	events      *mongo.Collection
	deadLetters *mongo.Collection
}

// New returns a Store over db.
func New(db *mongo.Database) *Store {
	return &Store{events: db.Collection(EventsCollection), deadLetters: db.Collection(DeadLettersCollection)}
}

// EnsureIndexes creates the indexes the queries need. Creating an index that
// exists is a no-op, so every replica calls it at start-up.
func (s *Store) EnsureIndexes(ctx context.Context) error {
	keys := []bson.D{
		{{Key: "time", Value: -1}, {Key: "_id", Value: -1}},
		{{Key: "action", Value: 1}, {Key: "time", Value: -1}},
		{{Key: "request_id", Value: 1}, {Key: "time", Value: -1}},
		{{Key: "actor_id", Value: 1}, {Key: "time", Value: -1}},
		{{Key: "type", Value: 1}, {Key: "time", Value: -1}},
	}
	// One createIndexes command per index: FerretDB v1.24 drops the
	// connection when a single command names several indexes that all exist.
	for _, k := range keys {
		if _, err := s.events.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: k}); err != nil {
			return fmt.Errorf("create index on %s: %w", EventsCollection, unavailable(err))
		}
	}
	dl := mongo.IndexModel{Keys: bson.D{{Key: "received_at", Value: -1}}}
	if _, err := s.deadLetters.Indexes().CreateOne(ctx, dl); err != nil {
		return fmt.Errorf("create index on %s: %w", DeadLettersCollection, unavailable(err))
	}
	return nil
}

// eventDoc is the stored form of an audit.Entry.
type eventDoc struct {
	ID         string    `bson:"_id"`
	Type       string    `bson:"type"`
	Source     string    `bson:"source"`
	Subject    string    `bson:"subject"`
	Time       time.Time `bson:"time"`
	ActorID    any       `bson:"actor_id,omitempty"` // int64 for a user id, else the string as sent
	ActorRole  string    `bson:"actor_role,omitempty"`
	TraceID    string    `bson:"trace_id,omitempty"`
	Action     string    `bson:"action,omitempty"` // absent: not a ticket action
	RequestID  int64     `bson:"request_id,omitempty"`
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
		d.ActorID = e.ActorID
		if id, err := strconv.ParseInt(e.ActorID, 10, 64); err == nil {
			d.ActorID = id
		}
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

// Save inserts e. An event id that is already stored is success: a
// redelivered event never makes a second document.
func (s *Store) Save(ctx context.Context, e audit.Entry) error {
	d, err := toDoc(e)
	if err != nil {
		return err
	}
	_, err = s.events.InsertOne(ctx, d)
	switch {
	case err == nil, mongo.IsDuplicateKeyError(err):
		return nil
	case rejected(err):
		return fmt.Errorf("%w: insert event %s: %w", audit.ErrInvalidEvent, e.EventID, err)
	}
	return fmt.Errorf("insert event %s: %w", e.EventID, unavailable(err))
}

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

// RequestActions returns the entries that record ticket actions selected by
// q, newest first (ties broken by event id), and their total count.
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
	if !q.Since.IsZero() {
		filter = append(filter, bson.E{Key: "time", Value: bson.D{{Key: "$gte", Value: q.Since}}})
	}

	total, err := s.events.CountDocuments(ctx, filter)
	if err != nil {
		return nil, 0, fmt.Errorf("count request actions: %w", unavailable(err))
	}
	opts := options.Find().
		SetSort(bson.D{{Key: "time", Value: -1}, {Key: "_id", Value: -1}}).
		SetSkip(q.Offset)
	if q.Limit > 0 {
		opts.SetLimit(q.Limit)
	}
	cur, err := s.events.Find(ctx, filter, opts)
	if err != nil {
		return nil, 0, fmt.Errorf("find request actions: %w", unavailable(err))
	}
	var docs []eventDoc
	if err := cur.All(ctx, &docs); err != nil {
		return nil, 0, fmt.Errorf("read request actions: %w", unavailable(err))
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

// rejected reports whether the server refused the document itself (a write
// error other than a duplicate key), which no retry can change.
func rejected(err error) bool {
	var we mongo.WriteException
	return errors.As(err, &we) && len(we.WriteErrors) > 0
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
