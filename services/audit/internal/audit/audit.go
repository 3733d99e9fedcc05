// Package audit is the audit service's domain: what is kept of every domain
// event the system publishes, which events count as actions on tickets, and
// the rules of the log queries. It knows neither HTTP nor MongoDB.
package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// ErrInvalidEvent marks an event that can never be stored, however often it
// is delivered.
var ErrInvalidEvent = errors.New("invalid event")

// Entry is what the audit log keeps of one event: its envelope, the action
// it records and its data exactly as it came.
type Entry struct {
	EventID    string
	Type       string
	Source     string
	Subject    string
	Time       time.Time
	ActorID    string // as in the event: a user id, or "" for the system
	ActorRole  string
	TraceID    string // 32 hex digits from the event's traceparent, or ""
	Action     string // ticket action (see ActionOf), or ""
	RequestID  int64  // the ticket an action concerns, or 0
	Data       json.RawMessage
	ReceivedAt time.Time
}

// NewEntry derives the entry of ev, received at receivedAt. It fails with
// ErrInvalidEvent when the data of ev is not a JSON object.
func NewEntry(ev events.Event, receivedAt time.Time) (Entry, error) {
	data := bytes.TrimSpace(ev.Data)
	if len(data) == 0 || data[0] != '{' || !json.Valid(data) {
		return Entry{}, fmt.Errorf("%w: data of event %s is not a JSON object", ErrInvalidEvent, ev.ID)
	}
	e := Entry{
		EventID:    ev.ID,
		Type:       ev.Type,
		Source:     ev.Source,
		Subject:    ev.Subject,
		Time:       ev.Time.UTC(),
		ActorID:    ev.ActorID,
		ActorRole:  ev.ActorRole,
		TraceID:    traceID(ev),
		Action:     ActionOf(ev.Type),
		Data:       json.RawMessage(data),
		ReceivedAt: receivedAt.UTC(),
	}
	if strings.HasPrefix(ev.Type, ticketTypePrefix) {
		e.RequestID = ticketID(data)
	}
	return e, nil
}

const ticketTypePrefix = "support.ticket."

// traceID returns the trace-id field of ev's traceparent, or "" when it has
// none or it is malformed.
func traceID(ev events.Event) string {
	sc := trace.SpanContextFromContext(ev.Context(context.Background()))
	if !sc.HasTraceID() {
		return ""
	}
	return sc.TraceID().String()
}

// ticketID returns the id of the ticket a ticket event's data describes: the
// "after" state's id, or the "before" state's for a deletion; 0 if neither
// reads as an integer id.
func ticketID(data []byte) int64 {
	var change struct {
		Before, After json.RawMessage
	}
	if json.Unmarshal(data, &change) != nil {
		return 0
	}
	for _, state := range []json.RawMessage{change.After, change.Before} {
		var t struct {
			ID int64 `json:"id"`
		}
		if len(state) > 0 && json.Unmarshal(state, &t) == nil && t.ID > 0 {
			return t.ID
		}
	}
	return 0
}

// Change returns the "before" and "after" members of the entry's data, each
// nil when absent.
func (e Entry) Change() (before, after json.RawMessage) {
	var change struct {
		Before, After json.RawMessage
	}
	if json.Unmarshal(e.Data, &change) != nil {
		return nil, nil
	}
	return change.Before, change.After
}

// DeadLetter is a message that will never be stored as an entry, kept with
// the reason so that someone can look at it.
type DeadLetter struct {
	Subject    string
	Reason     string
	Data       []byte // the message as it came
	EventID    string // "" when the message did not decode
	ReceivedAt time.Time
}

// ActionQuery selects entries that record ticket actions. Zero fields do not
// filter.
type ActionQuery struct {
	RequestID int64
	ActorID   int64
	Action    string
	Since     time.Time
	Offset    int64
	Limit     int64
}

// Store keeps entries and dead letters.
type Store interface {
	// Save stores e; saving an entry whose event id is already stored
	// succeeds and changes nothing.
	Save(ctx context.Context, e Entry) error
	// SaveDeadLetter stores d.
	SaveDeadLetter(ctx context.Context, d DeadLetter) error
	// RequestActions returns the entries q selects, newest first, and how
	// many there are in all.
	RequestActions(ctx context.Context, q ActionQuery) ([]Entry, int64, error)
}

// Service records events and answers the log queries.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store, reading the time from now.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Record stores ev. It is idempotent: recording an event that is already
// stored succeeds. It fails with ErrInvalidEvent when ev can never be stored.
func (s *Service) Record(ctx context.Context, ev events.Event) error {
	e, err := NewEntry(ev, s.now())
	if err != nil {
		return err
	}
	if err := s.store.Save(ctx, e); err != nil {
		return fmt.Errorf("record event %s: %w", ev.ID, err)
	}
	return nil
}

// RecordDeadLetter stores d, stamped with the time it was received.
func (s *Service) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	d.ReceivedAt = s.now().UTC()
	if err := s.store.SaveDeadLetter(ctx, d); err != nil {
		return fmt.Errorf("record dead letter from %s: %w", d.Subject, err)
	}
	return nil
}

// Result is one page of entries and the number of entries on all pages.
type Result struct {
	Entries []Entry
	Total   int64
}

// RequestActions returns page p of the actions on tickets that f selects,
// newest first. Invalid parameters fail with a fault.Validation error naming
// each bad field.
func (s *Service) RequestActions(ctx context.Context, f Filter, p Page) (Result, error) {
	if fields := Validate(f, p); len(fields) > 0 {
		return Result{}, fieldsError(fields)
	}
	q := ActionQuery{
		RequestID: f.RequestID,
		ActorID:   f.UserID,
		Action:    f.Action,
		Since:     s.now().UTC().Add(-time.Duration(f.HoursAgo) * time.Hour),
		Offset:    int64(p.Number-1) * int64(p.Size),
		Limit:     int64(p.Size),
	}
	entries, total, err := s.store.RequestActions(ctx, q)
	if err != nil {
		return Result{}, fmt.Errorf("request actions: %w", err)
	}
	return Result{Entries: entries, Total: total}, nil
}
