package bus

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
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

// BatchHandler processes several events at once and returns one outcome
// per event, in the order given, each read as a Handler's error. ctx
// carries the batch's span; each event's own trace is in its traceparent.
type BatchHandler func(ctx context.Context, evs []events.Event) []error

// DeadLetter receives a message that will never be processed, with the reason.
// ev is the zero Event when the message could not be decoded.
type DeadLetter func(ctx context.Context, msg jetstream.Msg, ev events.Event, reason error) error

// ConsumerConfig configures a durable pull consumer.
type ConsumerConfig struct {
	Stream        string // stream name; StreamName by default
	Durable       string // durable name, shared by every replica of the service
	FilterSubject string // e.g. "support.>" or "support.user.>"
	// FilterSubjects, instead of FilterSubject, are several filters, e.g.
	// every subject but support.api.>.
	FilterSubjects []string
	MaxDeliver     int // deliveries before a message is given up; 0 means 50
	// AckWait is the time a handler has for a batch: the server redelivers
	// its messages after it, and the handler's context ends. 0 means 30s.
	AckWait  time.Duration
	MaxDelay time.Duration // cap of the nak back-off; 0 means 30s
	// BatchSize is the most messages handed to a BatchHandler at once; 0
	// means 1. A batch holds what has arrived, waiting for more at most
	// Linger after its first message.
	BatchSize int
	// Linger is how long a batch short of BatchSize may wait for more
	// messages: a little latency for far fewer, larger writes when events
	// arrive one by one at a high rate. 0 hands a batch on at once.
	Linger time.Duration
	// Workers is how many batches are handled at once; 0 means 1. More
	// than one lets a batch be decoded while the previous one is written,
	// but gives up the stream's order: only for a handler that does not
	// care (the audit log, keyed by event id), never for a read model.
	Workers int
}

func (cfg *ConsumerConfig) setDefaults() {
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
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 1
	}
	if cfg.Workers < 1 {
		cfg.Workers = 1
	}
}

// Consumer processes messages of a durable consumer until stopped.
type Consumer struct {
	cons    jetstream.Consumer
	durable string
	cc      jetstream.ConsumeContext
	intake  chan jetstream.Msg // from the library's callback to the batching loop
	done    chan struct{}      // closed when the batching loop has returned
	closing sync.Once
	metrics *consumerMetrics
}

// consumerMetrics count what goes wrong in a consumer.
type consumerMetrics struct {
	errors       prometheus.Counter // consume errors the library reported
	deadLetters  prometheus.Counter // messages given up (terminated)
	redeliveries prometheus.Counter // deliveries after the first
}

func newConsumerMetrics(durable string) *consumerMetrics {
	labels := prometheus.Labels{"consumer": durable}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels})
	}
	return &consumerMetrics{
		errors:       counter("consumer_errors_total", "Errors of the consumer's subscription reported by the NATS client (missed heartbeats, lost connection...)."),
		deadLetters:  counter("consumer_dead_letters_total", "Messages given up: terminated and handed to the dead-letter hook."),
		redeliveries: counter("consumer_redeliveries_total", "Deliveries of a message after its first (a nak, an ack lost, or AckWait passed)."),
	}
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
	reg.MustRegister(c.metrics.errors, c.metrics.deadLetters, c.metrics.redeliveries,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "consumer_pending_messages", Help: "Messages of the stream not yet delivered to the consumer.", ConstLabels: labels},
			info(func(ci *jetstream.ConsumerInfo) float64 { return float64(ci.NumPending) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "consumer_unacked_messages", Help: "Messages delivered to the consumer and not yet acknowledged.", ConstLabels: labels},
			info(func(ci *jetstream.ConsumerInfo) float64 { return float64(ci.NumAckPending) })),
	)
}

// Consume creates or updates the durable consumer cfg and processes its
// messages one at a time with h. Each message ends in exactly one of: ack
// (h succeeded), nak with an exponential delay (h failed transiently), or
// term after dead (the message is undecodable, h failed permanently, or its
// last delivery failed).
func Consume(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h Handler, dead DeadLetter, logger *slog.Logger) (*Consumer, error) {
	cfg.BatchSize = 1
	one := func(ctx context.Context, evs []events.Event) []error {
		return []error{h(ctx, evs[0])}
	}
	return ConsumeBatch(ctx, js, cfg, one, dead, logger)
}

// ConsumeBatch is Consume with a handler that takes up to cfg.BatchSize
// events at once, for a consumer that stores them together. A batch holds
// the messages that have arrived when the previous one is done, so a quiet
// stream is handled a message at a time with no added delay, and a backlog
// in full batches. Each message of a batch ends on its own outcome.
func ConsumeBatch(ctx context.Context, js jetstream.JetStream, cfg ConsumerConfig, h BatchHandler, dead DeadLetter, logger *slog.Logger) (*Consumer, error) {
	cfg.setDefaults()
	cons, err := js.CreateOrUpdateConsumer(ctx, cfg.Stream, jetstream.ConsumerConfig{
		Durable:        cfg.Durable,
		FilterSubject:  cfg.FilterSubject,
		FilterSubjects: cfg.FilterSubjects,
		AckPolicy:      jetstream.AckExplicitPolicy,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckWait:        cfg.AckWait,
		MaxDeliver:     cfg.MaxDeliver,
		// Room for the batches in hand, the next one arriving and their
		// acks on the way: the server stops delivering at this many.
		MaxAckPending: max(1000, (cfg.Workers+2)*cfg.BatchSize),
	})
	if err != nil {
		return nil, fmt.Errorf("create consumer %s on %s: %w", cfg.Durable, cfg.Stream, err)
	}
	c := &Consumer{
		cons:    cons,
		durable: cfg.Durable,
		intake:  make(chan jetstream.Msg, cfg.BatchSize),
		done:    make(chan struct{}),
		metrics: newConsumerMetrics(cfg.Durable),
	}
	p := &processor{cfg: cfg, handle: h, dead: dead, logger: logger, nc: js.Conn(), metrics: c.metrics}
	go func() {
		defer close(c.done)
		p.loop(context.WithoutCancel(ctx), c.intake)
	}()
	// The library calls back from one goroutine; a full intake holds it
	// back, and the server stops sending once PullMaxMessages are buffered.
	c.cc, err = cons.Consume(func(msg jetstream.Msg) { c.intake <- msg },
		jetstream.PullMaxMessages(max(500, 2*cfg.BatchSize)),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			c.metrics.errors.Inc()
			logger.WarnContext(ctx, "consumer error", "consumer", cfg.Durable, "err", err)
		}))
	if err != nil {
		close(c.intake)
		<-c.done
		return nil, fmt.Errorf("consume %s: %w", cfg.Durable, err)
	}
	return c, nil
}

// Info returns the consumer's state on the server.
func (c *Consumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	return c.cons.Info(ctx)
}

// Stop stops fetching, lets the messages in hand finish, and waits until
// the consumer is idle or ctx ends.
func (c *Consumer) Stop(ctx context.Context) error {
	c.cc.Drain()
	select {
	case <-c.cc.Closed():
	case <-ctx.Done():
		c.cc.Stop()
		return ctx.Err()
	}
	// The callback is done: no message enters the intake any more.
	c.closing.Do(func() { close(c.intake) })
	select {
	case <-c.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

type processor struct {
	cfg     ConsumerConfig
	handle  BatchHandler
	dead    DeadLetter
	logger  *slog.Logger
	nc      *nats.Conn
	metrics *consumerMetrics
}

// loop gathers the messages of intake into batches until it is closed, and
// hands each batch to one of cfg.Workers workers.
func (p *processor) loop(ctx context.Context, intake <-chan jetstream.Msg) {
	batches := make(chan []jetstream.Msg)
	var workers sync.WaitGroup
	for range p.cfg.Workers {
		workers.Go(func() {
			for batch := range batches {
				p.process(ctx, batch)
			}
		})
	}
	defer workers.Wait()
	defer close(batches)
	for msg := range intake {
		batch := append(make([]jetstream.Msg, 0, p.cfg.BatchSize), msg)
		var linger <-chan time.Time // nil: never fires, so a batch goes when nothing is waiting
		if p.cfg.Linger > 0 {
			linger = time.After(p.cfg.Linger)
		}
	gather:
		for len(batch) < p.cfg.BatchSize {
			select {
			case m, ok := <-intake:
				if !ok {
					break gather
				}
				batch = append(batch, m)
				continue
			default:
			}
			if linger == nil {
				break
			}
			select {
			case m, ok := <-intake:
				if !ok {
					break gather
				}
				batch = append(batch, m)
			case <-linger:
				break gather
			}
		}
		batches <- batch
	}
}

// delivery is one message of a batch on its way to its outcome.
type delivery struct {
	msg       jetstream.Msg
	ev        events.Event
	ctx       context.Context // carries the message's consumer span
	span      trace.Span
	delivered uint64
}

// process handles one batch: each message is decoded and gets a consumer
// span continuing its producer's trace; the decoded events go to the
// handler together, and each message then ends on its own outcome.
func (p *processor) process(ctx context.Context, batch []jetstream.Msg) {
	tracer := otel.Tracer(tracerName)
	ds := make([]delivery, 0, len(batch))
	evs := make([]events.Event, 0, len(batch))
	links := make([]trace.Link, 0, len(batch))
	for _, msg := range batch {
		mctx := propagator.Extract(ctx, headerCarrier(msg.Headers()))
		mctx, span := tracer.Start(mctx, "process "+msg.Subject(),
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(
				attribute.String("messaging.system", "nats"),
				attribute.String("messaging.destination.name", msg.Subject()),
				attribute.String("messaging.consumer.group.name", p.cfg.Durable),
			))
		d := delivery{msg: msg, ctx: mctx, span: span, delivered: 1}
		if md, err := msg.Metadata(); err == nil {
			d.delivered = md.NumDelivered
		}
		if d.delivered > 1 {
			p.metrics.redeliveries.Inc()
		}
		ev, err := events.Decode(msg.Data())
		if err != nil {
			p.terminate(mctx, span, msg, events.Event{}, err)
			span.End()
			continue
		}
		span.SetAttributes(attribute.String("messaging.message.id", ev.ID))
		d.ev = ev
		ds = append(ds, d)
		evs = append(evs, ev)
		links = append(links, trace.LinkFromContext(mctx))
	}
	if len(ds) == 0 {
		p.flush(ctx)
		return
	}

	// A single message is handled in its own span; a batch in a span of
	// its own, linked to each message's.
	hctx := ds[0].ctx
	if len(ds) > 1 {
		var span trace.Span
		hctx, span = tracer.Start(ctx, "process batch", trace.WithLinks(links...),
			trace.WithAttributes(attribute.Int("messaging.batch.message_count", len(ds))))
		defer span.End()
	}
	// Past AckWait the server redelivers the batch anyway: a handler still
	// waiting on a store would only hold its worker.
	hctx, cancel := context.WithTimeout(hctx, p.cfg.AckWait)
	errs := p.handle(hctx, evs)
	cancel()
	if len(errs) != len(ds) {
		err := fmt.Errorf("batch handler returned %d outcomes for %d events", len(errs), len(ds))
		errs = make([]error, len(ds))
		for i := range errs {
			errs[i] = err
		}
	}
	for i, d := range ds {
		p.settle(d, errs[i])
		d.span.End()
	}
	p.flush(ctx)
}

// settle ends one message on its handler's outcome.
func (p *processor) settle(d delivery, err error) {
	switch {
	case err == nil:
		if err := d.msg.Ack(); err != nil {
			// The server will redeliver; the handler is idempotent.
			p.logger.WarnContext(d.ctx, "ack failed", "event_id", d.ev.ID, "err", err)
		}
	case IsPermanent(err) || d.delivered >= uint64(p.cfg.MaxDeliver):
		p.terminate(d.ctx, d.span, d.msg, d.ev, err)
	default:
		delay := backoff(d.delivered, p.cfg.MaxDelay)
		d.span.RecordError(err)
		p.logger.WarnContext(d.ctx, "event handling failed; will retry", "event_id", d.ev.ID, "type", d.ev.Type,
			"delivery", d.delivered, "retry_in", delay.String(), "err", err)
		if err := d.msg.NakWithDelay(delay); err != nil {
			p.logger.WarnContext(d.ctx, "nak failed", "event_id", d.ev.ID, "err", err)
		}
	}
}

// flush waits until the server has the acks, naks and terms of a batch
// (each is sent without waiting for a reply), so that a stop right after
// a batch loses none of them. A failed flush only means redeliveries,
// which the handlers absorb.
func (p *processor) flush(ctx context.Context) {
	if err := p.nc.FlushTimeout(5 * time.Second); err != nil {
		p.logger.WarnContext(ctx, "acks not confirmed; the server may redeliver", "consumer", p.cfg.Durable, "err", err)
	}
}

// deadLetterTries is how often terminate tries to write a dead letter before
// it gives the message back to redelivery.
const deadLetterTries = 4

func (p *processor) terminate(ctx context.Context, span trace.Span, msg jetstream.Msg, ev events.Event, reason error) {
	p.metrics.deadLetters.Inc()
	span.RecordError(reason)
	span.SetStatus(codes.Error, "terminated")
	p.logger.ErrorContext(ctx, "event terminated", "subject", msg.Subject(), "event_id", ev.ID, "err", reason)
	if p.dead != nil {
		// On the last delivery a nak would lose the message: the server does
		// not redeliver past MaxDeliver. So the dead letter is retried here a
		// few times, keeping the message ours meanwhile.
		for try := 1; ; try++ {
			dctx, cancel := context.WithTimeout(ctx, p.cfg.AckWait)
			err := p.dead(dctx, msg, ev, reason)
			cancel()
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
	if err := msg.TermWithReason(events.Truncate(reason.Error(), 200)); err != nil {
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

// Applier adapts a function that applies an event to local state into a
// Handler: an Invalid fault (the event can never apply) terminates the
// message; any other error asks for redelivery.
func Applier(apply func(context.Context, events.Event) error) Handler {
	return func(ctx context.Context, ev events.Event) error { return permanentIfInvalid(apply(ctx, ev)) }
}

// permanentIfInvalid marks a fault.Invalid error as permanent: no
// redelivery makes an unreadable event readable.
func permanentIfInvalid(err error) error {
	if fault.Is(err, fault.Invalid) {
		return Permanent(err)
	}
	return err
}

// BatchApplier is Applier for a batch handler: an event that fails with a
// fault.Invalid error is dead-lettered; any other failure is retried.
func BatchApplier(apply BatchHandler) BatchHandler {
	return func(ctx context.Context, evs []events.Event) []error {
		errs := apply(ctx, evs)
		for i, err := range errs {
			errs[i] = permanentIfInvalid(err)
		}
		return errs
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
