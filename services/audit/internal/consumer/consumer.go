// Package consumer is the audit service's message transport: it turns the
// events delivered by the durable "audit" JetStream consumer into calls to
// the domain, and classifies failures so that each message ends in exactly
// one of ack, nak with delay, or term with a dead letter. It also replays
// the stream into the store (Replay).
package consumer

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// Durable is the name of the consumer every audit replica shares.
const Durable = "audit"

// Delivery settings of the durable consumer.
const (
	// MaxDelay caps the nak back-off, which doubles from 100ms.
	MaxDelay = 30 * time.Second
	// MaxDeliver is high enough that a message waits out a MongoDB outage
	// of a week rather than being given up: a week of deliveries MaxDelay
	// apart (every delivery during an outage also spends up to the
	// server-selection timeout, so the real margin is longer). Messages
	// that can never be stored do not wait for it: they are terminated
	// and dead-lettered at their first delivery.
	MaxDeliver = 7 * 24 * int(time.Hour/MaxDelay)
	// AckWait is the time a delivery has before JetStream redelivers it.
	AckWait = 30 * time.Second
	// HandleTimeout bounds the handling of one batch, below AckWait, so
	// that a hung database call ends in a nak rather than in a redelivery
	// while the first attempt is still running.
	HandleTimeout = 20 * time.Second
	// DefaultBatch is how many messages are stored together at most
	// (AUDIT_BATCH_SIZE): a backlog drains in inserts of this many.
	DefaultBatch = 1000
)

// Config is the consumer of every event of the system, storing up to batch
// events at once.
func Config(batch int) bus.ConsumerConfig {
	return bus.ConsumerConfig{
		Durable:       Durable,
		FilterSubject: events.SubjectAll,
		MaxDeliver:    MaxDeliver,
		AckWait:       AckWait,
		MaxDelay:      MaxDelay,
		BatchSize:     batch,
		// Events come one by one at high rates: a few milliseconds make
		// one write serve many.
		Linger: 5 * time.Millisecond,
		// Two batches at once: one is decoded while the other is written.
		// The log is keyed by event id, so the order does not matter.
		Workers: 2,
	}
}

// Recorder is what the consumer needs of the domain.
type Recorder interface {
	RecordBatch(ctx context.Context, evs []events.Event) []audit.Recorded
	RecordDeadLetter(ctx context.Context, d audit.DeadLetter) error
}

// Handler records each batch of events with one write. An event that can
// never be stored fails permanently (term and dead letter) by itself; any
// other failure, such as the database being unreachable, asks for
// redelivery later. An event that is already stored is success: the
// redelivery is acked.
func Handler(r Recorder) bus.BatchHandler {
	return func(ctx context.Context, evs []events.Event) []error {
		ctx, cancel := context.WithTimeout(ctx, HandleTimeout)
		defer cancel()
		out := make([]error, len(evs))
		for i, rec := range r.RecordBatch(ctx, evs) {
			out[i] = rec.Err
			if errors.Is(rec.Err, audit.ErrInvalidEvent) {
				out[i] = bus.Permanent(rec.Err)
			}
		}
		return out
	}
}

// DeadLetter keeps each message that will never be recorded.
func DeadLetter(r Recorder) bus.DeadLetter {
	return func(ctx context.Context, msg jetstream.Msg, ev events.Event, reason error) error {
		ctx, cancel := context.WithTimeout(ctx, HandleTimeout)
		defer cancel()
		why := "unknown"
		if reason != nil {
			why = reason.Error()
		}
		return r.RecordDeadLetter(ctx, audit.DeadLetter{
			Subject: msg.Subject(),
			Reason:  why,
			Data:    msg.Data(),
			EventID: ev.ID,
		})
	}
}
