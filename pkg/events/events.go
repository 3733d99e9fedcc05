// Package events is the contract of the messages the services publish on NATS:
// a CloudEvents 1.0 envelope (structured JSON mode) around versioned payloads.
//
// A type is "support.<aggregate>.<action>.v<N>" and is published on the NATS
// subject "support.<aggregate>.<action>". Within a version, payload changes
// are additive; a breaking change is a new type with the next version.
package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel/propagation"
)

// SpecVersion is the CloudEvents version of the envelope.
const SpecVersion = "1.0"

// SubjectAll matches every subject the system publishes.
const SubjectAll = "support.>"

// Event is a CloudEvents 1.0 event in structured JSON mode, with the
// extension attributes actorid, actorrole and traceparent.
type Event struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            time.Time       `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	Data            json.RawMessage `json:"data"`
	ActorID         string          `json:"actorid,omitempty"`
	ActorRole       string          `json:"actorrole,omitempty"`
	TraceParent     string          `json:"traceparent,omitempty"`
}

// Actor is who caused an event: a user id and role, or empty for the system.
type Actor struct {
	ID   string
	Role string
}

// New builds an event of type typ about subject (the entity it concerns,
// e.g. "REQ000001"), with data as its JSON payload and the trace context of
// ctx in the traceparent extension.
func New(ctx context.Context, source, typ, subject string, actor Actor, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, fmt.Errorf("encode %s payload: %w", typ, err)
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	ev := Event{
		SpecVersion:     SpecVersion,
		ID:              uuid.NewString(),
		Source:          source,
		Type:            typ,
		Subject:         subject,
		Time:            time.Now().UTC().Truncate(time.Microsecond),
		DataContentType: "application/json",
		Data:            raw,
		ActorID:         actor.ID,
		ActorRole:       actor.Role,
		TraceParent:     carrier.Get("traceparent"),
	}
	return ev, ev.validate(false) // raw came from json.Marshal: JSON
}

// Topic returns the NATS subject an event of type typ is published on:
// the type without its version suffix.
func Topic(typ string) string {
	i := strings.LastIndex(typ, ".v")
	if i < 0 {
		return typ
	}
	return typ[:i]
}

// Topic returns the NATS subject of e.
func (e Event) Topic() string { return Topic(e.Type) }

// Validate checks the attributes CloudEvents requires and the ones this
// system relies on, and that the data is JSON.
func (e Event) Validate() error { return e.validate(true) }

// validate is Validate; scanData false skips scanning data that is known
// to be JSON (marshalled by New, or unmarshalled with the envelope).
func (e Event) validate(scanData bool) error {
	var errs []error
	if e.SpecVersion != SpecVersion {
		errs = append(errs, fmt.Errorf("specversion %q, want %q", e.SpecVersion, SpecVersion))
	}
	if e.ID == "" {
		errs = append(errs, errors.New("id is empty"))
	}
	if e.Source == "" {
		errs = append(errs, errors.New("source is empty"))
	}
	if !strings.HasPrefix(e.Type, "support.") || Topic(e.Type) == e.Type {
		errs = append(errs, fmt.Errorf("type %q is not support.<aggregate>.<action>.v<N>", e.Type))
	}
	if e.Time.IsZero() {
		errs = append(errs, errors.New("time is empty"))
	}
	if len(e.Data) == 0 || scanData && !json.Valid(e.Data) {
		errs = append(errs, errors.New("data is not JSON"))
	}
	return errors.Join(errs...)
}

// Decode parses and validates a structured-mode CloudEvent.
func Decode(b []byte) (Event, error) {
	var e Event
	if err := json.Unmarshal(b, &e); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	// Unmarshal has checked all of b, data included, for JSON.
	if err := e.validate(false); err != nil {
		return Event{}, fmt.Errorf("invalid event: %w", err)
	}
	return e, nil
}

// DecodeData unmarshals the payload of e into v.
func (e Event) DecodeData(v any) error {
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("decode %s data: %w", e.Type, err)
	}
	return nil
}

// Context returns ctx carrying the remote span context of e's traceparent,
// so that work done for e continues the trace that produced it.
func (e Event) Context(ctx context.Context) context.Context {
	if e.TraceParent == "" {
		return ctx
	}
	return propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier{"traceparent": e.TraceParent})
}
