// Package bus connects the services to NATS JetStream: the one stream of
// domain events, publishing with de-duplication, and durable consumers whose
// every message ends in exactly one of ack, nak with delay, or term.
package bus

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/events"
)

const tracerName = "github.com/supportdesk/supportdesk/pkg/bus"

// StreamName is the stream that holds every domain event.
const StreamName = "SUPPORT_EVENTS"

// asyncAckTimeout is how long an asynchronous publish (PublishBatch) waits
// for its ack before it fails. Without it, nats.go waits forever: an ack
// the server never sends holds one of the connection's slots for pending
// publishes for good, and a caller that gave up earlier leaks it.
const asyncAckTimeout = 30 * time.Second

// Connect opens a NATS connection named after the service, which keeps
// reconnecting forever, and a JetStream context on it.
func Connect(url, name string) (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(url,
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(500*time.Millisecond),
		nats.RetryOnFailedConnect(true),
	)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(asyncAckTimeout))
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Open connects to NATS as service and opens the event stream, creating
// it with stream when it is missing (see OpenStream). drift says how the
// stream differs from stream, if it does.
func Open(ctx context.Context, url, service string, stream StreamConfig) (nc *nats.Conn, js jetstream.JetStream, drift string, err error) {
	nc, js, err = Connect(url, service)
	if err != nil {
		return nil, nil, "", err
	}
	if _, drift, err = OpenStream(ctx, js, stream); err != nil {
		nc.Close()
		return nil, nil, "", err
	}
	return nc, js, drift, nil
}

// StreamConfig is the part of the stream's configuration the system sets.
type StreamConfig struct {
	Name       string        // StreamName unless a test isolates itself
	MaxAge     time.Duration // retention; 0 keeps events forever
	Duplicates time.Duration // de-duplication window for Nats-Msg-Id
	Replicas   int           // copies kept in a JetStream cluster; 0 is 1
}

// DefaultStream is the production stream: every support.> subject, kept
// 30 days, with a duplicate window far above the outbox relay's retry gap,
// on one server.
func DefaultStream() StreamConfig {
	return StreamConfig{Name: StreamName, MaxAge: 30 * 24 * time.Hour, Duplicates: 2 * time.Hour, Replicas: 1}
}

func (c StreamConfig) jetstream() jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       c.Name,
		Subjects:   []string{events.SubjectAll},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     c.MaxAge,
		Duplicates: c.Duplicates,
		Replicas:   max(1, c.Replicas),
	}
}

// EnsureStream creates the stream or updates it to cfg. It is the
// operator's step (`<service> stream`), the one place that changes the
// stream's replicas and retention; services starting use OpenStream.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, cfg.jetstream())
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
}

// OpenStream is what a service does at start-up: it creates the stream with
// cfg when it is missing, and otherwise leaves it as it is, so that no
// service sets back replicas or a retention that an operator, or another
// service's settings, chose. drift says how the stream differs from cfg in
// replicas or max age ("" when it does not).
func OpenStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (s jetstream.Stream, drift string, err error) {
	s, err = js.Stream(ctx, cfg.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		s, err = js.CreateStream(ctx, cfg.jetstream())
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) { // another service was first
			s, err = js.Stream(ctx, cfg.Name)
		}
	}
	if err != nil {
		return nil, "", fmt.Errorf("open stream %s: %w", cfg.Name, err)
	}
	have, want := s.CachedInfo().Config, cfg.jetstream()
	if have.Replicas != want.Replicas || have.MaxAge != want.MaxAge {
		drift = fmt.Sprintf("stream %s has %d replicas and max age %s; this service's settings say %d and %s",
			cfg.Name, have.Replicas, have.MaxAge, want.Replicas, want.MaxAge)
	}
	return s, drift, nil
}

// headerCarrier adapts NATS headers to OpenTelemetry propagation. NATS header
// names are case-sensitive, so keys are kept exactly as the propagator names
// them (lower-case "traceparent"), unlike http.Header's canonical form.
type headerCarrier nats.Header

func (c headerCarrier) Get(key string) string {
	if v := c[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c headerCarrier) Set(key, value string) { c[key] = []string{value} }

func (c headerCarrier) Keys() []string {
	keys := make([]string, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	return keys
}

var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// Publisher publishes events on JetStream.
type Publisher struct {
	js                 jetstream.JetStream
	stored, duplicates atomic.Int64 // see Counts
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

// Counts returns how many of p's publishes the stream stored, and how many
// it had stored already and dropped as duplicates (a publish retried after
// its ack was lost): an event stored twice would count twice in stored.
func (p *Publisher) Counts() (stored, duplicates int64) { return p.stored.Load(), p.duplicates.Load() }

func (p *Publisher) count(ack *jetstream.PubAck) {
	if ack.Duplicate {
		p.duplicates.Add(1)
	} else {
		p.stored.Add(1)
	}
}

// Publish sends ev on its topic with Nats-Msg-Id set to the event id, so a
// retried publish is stored once, and waits for the stream's ack. The trace
// context of ctx (or, failing that, the event's traceparent) rides in the
// message headers.
func (p *Publisher) Publish(ctx context.Context, ev events.Event) error {
	ctx, span := publishSpan(ctx, ev)
	defer span.End()

	msg, err := Message(ctx, ev)
	if err != nil {
		return err
	}
	ack, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID))
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return fmt.Errorf("publish %s %s: %w", ev.Type, ev.ID, err)
	}
	p.count(ack)
	return nil
}

// publishSpan starts the producer span of publishing ev, a child of the
// trace in ctx or, failing that, of the event's traceparent.
func publishSpan(ctx context.Context, ev events.Event) (context.Context, trace.Span) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		ctx = ev.Context(ctx)
	}
	return otel.Tracer(tracerName).Start(ctx, "publish "+ev.Topic(),
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", ev.Topic()),
			attribute.String("messaging.message.id", ev.ID),
		))
}

// PublishBatch is Publish for several events at once: it sends them all
// without waiting, then waits for the stream's acks, so that a batch costs
// about one round trip instead of one per event. It returns how many events
// from the start of evs the stream has, and the error that stopped the
// first one that failed (the rest may be stored or not; publishing them
// again is safe, as with Publish).
func (p *Publisher) PublishBatch(ctx context.Context, evs []events.Event) (int, error) {
	type sent struct {
		span trace.Span
		ack  jetstream.PubAckFuture
		err  error
	}
	out := make([]sent, len(evs))
	for i, ev := range evs {
		var ectx context.Context
		ectx, out[i].span = publishSpan(ctx, ev)
		msg, err := Message(ectx, ev)
		if err == nil {
			out[i].ack, err = p.js.PublishMsgAsync(msg, jetstream.WithMsgID(ev.ID))
		}
		if err != nil {
			out[i].err = fmt.Errorf("publish %s %s: %w", ev.Type, ev.ID, err)
			break
		}
	}
	done := 0
	var first error
	for i := range out {
		s := &out[i]
		if s.span == nil {
			break
		}
		if s.err == nil && s.ack != nil {
			select {
			case ack := <-s.ack.Ok():
				p.count(ack)
			case err := <-s.ack.Err():
				s.err = fmt.Errorf("publish %s %s: %w", evs[i].Type, evs[i].ID, err)
			case <-ctx.Done():
				s.err = fmt.Errorf("publish %s %s: %w", evs[i].Type, evs[i].ID, ctx.Err())
			}
		}
		if s.err != nil {
			s.span.RecordError(s.err)
			s.span.SetStatus(codes.Error, "publish failed")
			if first == nil {
				first = s.err
			}
		} else if first == nil {
			done++
		}
		s.span.End()
	}
	return done, first
}

// Message is ev as it goes on the stream: its CloudEvent JSON on its topic,
// with the content type and the trace context of ctx in the headers. The
// publisher sets Nats-Msg-Id to the event id (jetstream.WithMsgID(ev.ID)).
func Message(ctx context.Context, ev events.Event) (*nats.Msg, error) {
	data, err := jsonEncode(ev)
	if err != nil {
		return nil, err
	}
	msg := &nats.Msg{Subject: ev.Topic(), Data: data, Header: nats.Header{}}
	msg.Header.Set("content-type", "application/cloudevents+json")
	propagator.Inject(ctx, headerCarrier(msg.Header))
	return msg, nil
}

// permanentError marks a failure that no redelivery can fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err so that the consumer terminates the message (and hands
// it to the dead-letter hook) instead of asking for redelivery.
func Permanent(err error) error { return permanentError{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	_, ok := errors.AsType[permanentError](err)
	return ok
}

// Healthy reports whether nc is connected.
func Healthy(nc *nats.Conn) error {
	if s := nc.Status(); s != nats.CONNECTED {
		return fmt.Errorf("NATS connection is %s", s)
	}
	return nil
}

// Drain lets NATS deliver what is pending and closes the connection, or
// closes it at once when ctx ends first. nats.Conn.Drain only starts the
// drain, so its end is awaited here.
//
// A connection that is closed, or reconnecting because the server is gone,
// has nothing it could still deliver: it is closed and that is no failure.
// What must not be lost is held elsewhere (an outbox, the gateway's API
// event queue, which reports what it could not flush).
func Drain(ctx context.Context, nc *nats.Conn) error {
	if err := nc.Drain(); err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrConnectionClosed) || errors.Is(err, nats.ErrConnectionReconnecting) {
			return nil
		}
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
