package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

func jsonEncode(ev events.Event) ([]byte, error) {
	b, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encode event %s: %w", ev.ID, err)
	}
	return b, nil
}

// Handler processes one event. Returning nil acks the message; an error
// marked Permanent terminates it; any other error asks for redelivery later.
type Handler func(ctx context.Context, ev events.Event) error

// DeadLetter receives a message that will never be processed, with the reason.
// ev is the zero Event when the message could not be decoded.
type DeadLetter func(ctx context.Context, msg jetstream.Msg, ev events.Event, reason error) error

// ConsumerConfig configures a durable pull consumer.
type ConsumerConfig struct {
	Stream        string        // stream name; StreamName by default
	Durable       string        // durable name, shared by every replica of the service
	FilterSubject string        // e.g. "support.>" or "support.user.>"
	MaxDeliver    int           // deliveries before a message is given up; 0 means 50
	AckWait       time.Duration // time a handler has before redelivery; 0 means 30s
	MaxDelay      time.Duration // cap of the nak back-off; 0 means 30s
}

// Consumer processes messages of a durable consumer until stopped.
type Consumer struct {
	cons    jetstream.Consumer
	durable string
	cc      jetstream.ConsumeContext
	logger  *slog.Logger
}

// RegisterMetrics exposes the consumer's lag on reg: messages not yet
// delivered, and delivered but not yet acknowledged, read at scrape time.
func (c *Consumer) RegisterMetrics(reg prometheus.Registerer) {
	info := func(pick func(*jetstream.ConsumerInfo) float64) func() float64 {
		return func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			ci, err := c.cons.Info(ctx)
			if err != nil {
				return -1
			}
			return pick(ci)
		}
	}
	labels := prometheus.Labels{"consumer": c.durable}
	reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "consumer_pending_messages", Help: "Messages of the stream not yet delivered to the consumer.", ConstLabels: labels},
			info(func(ci *jetstream.ConsumerInfo) float64 { return float64(ci.NumPending) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "consumer_unacked_messages", Help: "Messages delivered to the consumer and not yet acknowledged.", ConstLabels: labels},
			info(func(ci *jetstream.ConsumerInfo) float64 { return float64(ci.NumAckPending) })),
	)
}

// Consume creates or updates the durable consumer cfg and processes its
// messages with h. Each message ends in exactly one of: ack (h succeeded),
// nak with an exponential delay (h failed transiently), or term after
// dead (the message is undecodable, h failed permanently, or its last
// delivery failed).
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler, dead DeadLetter, logger *slog.Logger) (*Consumer, error) {
	if cfg.Stream == "" {
		cfg.Stream = StreamName
	}
	if cfg.MaxDeliver == 0 {
		cfg.MaxDeliver = 50
	}
	if cfg.AckWait == 0 {
		cfg.AckWait = 30 * time.Second
	}
	if cfg.MaxDelay == 0 {
		cfg.MaxDelay = 30 * time.Second
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:       cfg.Durable,
		FilterSubject: cfg.FilterSubject,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    cfg.MaxDeliver,
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	p := processor{cfg: cfg, handle: h, dead: dead, logger: logger}
	cc, err := cons.Consume(func(msg jetstream.Msg) { p.process(context.WithoutCancel(ctx), msg) })
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	return &Consumer{cons: cons, durable: cfg.Durable, cc: cc, logger: logger}, nil
}

// Stop stops fetching, lets the message in hand finish, and waits until the
// consumer is idle or ctx ends.
func (c *Consumer) Stop(ctx context.Context) error {
	c.cc.Drain()
	select {
	case <-c.cc.Closed():
		return nil
	case <-ctx.Done():
		c.cc.Stop()
		return ctx.Err()
	}
}

type processor struct {
	cfg    ConsumerConfig
	handle Handler
	dead   DeadLetter
	logger *slog.Logger
}

func (p processor) process(ctx context.Context, msg jetstream.Msg) {
	ctx = propagator.Extract(ctx, headerCarrier(msg.Headers()))
	ctx, span := otel.Tracer(tracerName).Start(ctx, "process "+msg.Subject(),
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "nats"),
			attribute.String("messaging.destination.name", msg.Subject()),
			attribute.String("messaging.consumer.group.name", p.cfg.Durable),
		))
	defer span.End()

	delivered := uint64(1)
	if md, err := msg.Metadata(); err == nil {
		delivered = md.NumDelivered
	}

	ev, err := events.Decode(msg.Data())
	if err != nil {
		p.terminate(ctx, span, msg, events.Event{}, err)
		return
	}
	span.SetAttributes(attribute.String("messaging.message.id", ev.ID))

	err = p.handle(ctx, ev)
	switch {
	case err == nil:
		if err := msg.DoubleAck(ctx); err != nil {
			// The server will redeliver; the handler is idempotent.
			p.logger.WarnContext(ctx, "ack failed", "event_id", ev.ID, "err", err)
		}
	case IsPermanent(err) || delivered >= uint64(p.cfg.MaxDeliver):
		p.terminate(ctx, span, msg, ev, err)
	default:
		delay := backoff(delivered, p.cfg.MaxDelay)
		span.RecordError(err)
		p.logger.WarnContext(ctx, "event handling failed; will retry", "event_id", ev.ID, "type", ev.Type,
			"delivery", delivered, "retry_in", delay.String(), "err", err)
		if err := msg.NakWithDelay(delay); err != nil {
			p.logger.WarnContext(ctx, "nak failed", "event_id", ev.ID, "err", err)
		}
	}
}

// deadLetterTries is how often terminate tries to write a dead letter before
// it gives the message back to redelivery.
const deadLetterTries = 4

func (p processor) terminate(ctx context.Context, span trace.Span, msg jetstream.Msg, ev events.Event, reason error) {
	span.RecordError(reason)
	span.SetStatus(codes.Error, "terminated")
	p.logger.ErrorContext(ctx, "event terminated", "subject", msg.Subject(), "event_id", ev.ID, "err", reason)
	if p.dead != nil {
		// On the last delivery a nak would lose the message: the server does
		// not redeliver past MaxDeliver. So the dead letter is retried here a
		// few times, keeping the message ours meanwhile.
		for try := 1; ; try++ {
			err := p.dead(ctx, msg, ev, reason)
			if err == nil {
				break
			}
			if try == deadLetterTries {
				p.logger.ErrorContext(ctx, "dead-letter failed; leaving the message to redelivery", "subject", msg.Subject(), "err", err)
				_ = msg.NakWithDelay(p.cfg.MaxDelay)
				return
			}
			_ = msg.InProgress()
			time.Sleep(backoff(uint64(try)+3, p.cfg.MaxDelay)) // 0.8 s, 1.6 s, 3.2 s at most
		}
	}
	if err := msg.TermWithReason(truncate(reason.Error(), 200)); err != nil {
		p.logger.WarnContext(ctx, "term failed", "subject", msg.Subject(), "err", err)
	}
}

// backoff doubles from 100ms per delivery, up to max.
func backoff(delivered uint64, max time.Duration) time.Duration {
	d := 100 * time.Millisecond
	for i := uint64(1); i < delivered && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// Applier adapts a function that applies an event to local state into a
// Handler: an Invalid fault (the event can never apply) terminates the
// message; any other error asks for redelivery.
func Applier(apply func(context.Context, events.Event) error) Handler {
	return func(ctx context.Context, ev events.Event) error {
		err := apply(ctx, ev)
		if fault.Is(err, fault.Invalid) {
			return Permanent(err)
		}
		return err
	}
}

// LogDeadLetter returns a DeadLetter that only logs the terminated message,
// for consumers of events the audit service keeps anyway.
func LogDeadLetter(logger *slog.Logger) DeadLetter {
	return func(ctx context.Context, msg jetstream.Msg, ev events.Event, reason error) error {
		logger.ErrorContext(ctx, "event dropped", "subject", msg.Subject(), "event_id", ev.ID, "reason", reason)
		return nil
	}
}
