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
	"strconv"
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
	Action     string // ticket action (see ActionOf and ReadAction), or ""
	RequestID  int64  // the ticket an action concerns, or 0
	Call       *Call  // the API call(s) of an api.request or api.refused event, else nil
	Data       json.RawMessage
	ReceivedAt time.Time
}

// NewEntry derives the entry of ev, received at receivedAt. It fails with
// ErrInvalidEvent when the data of ev is not a JSON object, or when ev is an
// API call whose data does not describe one (see CallOf).
//
// What the queries filter on is derived here, once, so that each query is
// a plain indexed find: the ticket action and ticket id of ticket events
// and of the API calls that read tickets, and the API call itself.
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
	switch {
	case strings.HasPrefix(ev.Type, ticketTypePrefix):
		e.RequestID = ticketID(data)
	case IsCallType(ev.Type):
		call, err := CallOf(ev.Type, e.Data)
		if err != nil {
			return Entry{}, fmt.Errorf("event %s: %w", ev.ID, err)
		}
		e.Call = call
		if !call.Aggregate {
			e.Action, e.RequestID = ReadAction(*call)
		}
		if e.ActorID == "" && call.UserID != nil {
			// The envelope names the actor of every other event; keep the
			// user filters working on a call whose envelope omitted it.
			e.ActorID, e.ActorRole = strconv.FormatInt(*call.UserID, 10), call.Role
		}
	}
	return e, nil
}

// Weight is how many occurrences the entry stands for in the statistics:
// an aggregate's count, else 1.
func (e Entry) Weight() int64 {
	if e.Call != nil && e.Call.Count > 1 {
		return e.Call.Count
	}
	return 1
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
