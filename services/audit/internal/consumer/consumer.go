// Package consumer is the audit service's message transport: it turns the
// events delivered by the durable "audit" JetStream consumer into calls to
// the domain, and classifies failures so that each message ends in exactly
// one of ack, nak with delay, or term with a dead letter.
package consumer

import (
	"context"
	"errors"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// Durable is the name of the consumer every audit replica shares.
const Durable = "audit"

// Config is the consumer of every event of the system.
func Config() bus.ConsumerConfig {
	return bus.ConsumerConfig{Durable: Durable, FilterSubject: events.SubjectAll}
}

// Recorder is what the consumer needs of the domain.
type Recorder interface {
	Record(ctx context.Context, ev events.Event) error
	RecordDeadLetter(ctx context.Context, d audit.DeadLetter) error
}

// Handler records each event. An event that can never be stored fails
// permanently (term and dead letter); any other failure, such as the
// database being unreachable, asks for redelivery later.
func Handler(r Recorder) bus.Handler {
	return func(ctx context.Context, ev events.Event) error {
		err := r.Record(ctx, ev)
		if errors.Is(err, audit.ErrInvalidEvent) {
			return bus.Permanent(err)
		}
		return err
	}
}

// DeadLetter keeps each message that will never be recorded.
func DeadLetter(r Recorder) bus.DeadLetter {
	return func(ctx context.Context, msg jetstream.Msg, ev events.Event, reason error) error {
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
