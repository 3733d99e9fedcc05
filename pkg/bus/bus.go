// Package bus connects the services to NATS JetStream: the one stream of
// domain events, publishing with de-duplication, and durable consumers whose
// every message ends in exactly one of ack, nak with delay, or term.
package bus

import (
	"context"
	"errors"
	"fmt"
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
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, fmt.Errorf("jetstream: %w", err)
	}
	return nc, js, nil
}

// Open connects to NATS as service and ensures the event stream with the
// given max age (every service does this at start-up; see EnsureStream).
func Open(ctx context.Context, url, service string, maxAge time.Duration) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, err := Connect(url, service)
	if err != nil {
		return nil, nil, err
	}
	stream := DefaultStream()
	stream.MaxAge = maxAge
	if _, err := EnsureStream(ctx, js, stream); err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// StreamConfig is the part of the stream's configuration the system sets.
type StreamConfig struct {
	Name       string        // StreamName unless a test isolates itself
	MaxAge     time.Duration // retention; 0 keeps events forever
	Duplicates time.Duration // de-duplication window for Nats-Msg-Id
}

// DefaultStream is the production stream: every support.> subject, kept
// 30 days, with a duplicate window far above the outbox relay's retry gap.
func DefaultStream() StreamConfig {
	return StreamConfig{Name: StreamName, MaxAge: 30 * 24 * time.Hour, Duplicates: 2 * time.Hour}
}

// EnsureStream creates the stream or updates it to cfg; every service calls
// it at start-up, so the order in which services start does not matter.
func EnsureStream(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) (jetstream.Stream, error) {
	s, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:       cfg.Name,
		Subjects:   []string{events.SubjectAll},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     cfg.MaxAge,
		Duplicates: cfg.Duplicates,
	})
	if err != nil {
		return nil, fmt.Errorf("ensure stream %s: %w", cfg.Name, err)
	}
	return s, nil
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
	js jetstream.JetStream
}

// NewPublisher returns a Publisher on js.
func NewPublisher(js jetstream.JetStream) *Publisher { return &Publisher{js: js} }

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
	if _, err := p.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "publish failed")
		return fmt.Errorf("publish %s %s: %w", ev.Type, ev.ID, err)
	}
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
			case <-s.ack.Ok():
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
