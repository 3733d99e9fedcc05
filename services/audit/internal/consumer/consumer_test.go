package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
)

type fakeRecorder struct {
	errs map[string]error // by event id
	err  error            // of dead letters
	dead []audit.DeadLetter
}

func (r *fakeRecorder) RecordBatch(ctx context.Context, evs []events.Event) []audit.Recorded {
	out := make([]audit.Recorded, len(evs))
	for i, ev := range evs {
		out[i].Err = r.errs[ev.ID]
		if _, ok := ctx.Deadline(); !ok {
			out[i].Err = errors.New("no deadline on the handling of a batch")
		}
		out[i].New = out[i].Err == nil
	}
	return out
}

func (r *fakeRecorder) RecordDeadLetter(_ context.Context, d audit.DeadLetter) error {
	r.dead = append(r.dead, d)
	return r.err
}

// TestHandlerClassifiesFailures: each event of a batch ends on its own
// outcome.
func TestHandlerClassifiesFailures(t *testing.T) {
	down := errors.New("server selection error: context deadline exceeded")
	invalid := fmt.Errorf("record: %w", audit.ErrInvalidEvent)
	r := &fakeRecorder{errs: map[string]error{"invalid": invalid, "down": down}}
	evs := []events.Event{{ID: "stored"}, {ID: "invalid"}, {ID: "down"}}
	errs := consumer.Handler(r)(context.Background(), evs)
	if len(errs) != 3 {
		t.Fatalf("%d outcomes for 3 events", len(errs))
	}
	tests := []struct {
		name      string
		err       error
		wrapped   error
		permanent bool
	}{
		{"stored", errs[0], nil, false},
		{"invalid event: term", errs[1], invalid, true},
		{"database down: retry", errs[2], down, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if (tt.err != nil) != (tt.wrapped != nil) || bus.IsPermanent(tt.err) != tt.permanent {
				t.Errorf("handler error = %v (permanent %v), want %v, permanent %v",
					tt.err, bus.IsPermanent(tt.err), tt.wrapped, tt.permanent)
			}
			if tt.wrapped != nil && !errors.Is(tt.err, tt.wrapped) {
				t.Errorf("handler error %v does not wrap %v", tt.err, tt.wrapped)
			}
		})
	}
}

// fakeMsg is the part of a JetStream message the dead-letter hook reads.
type fakeMsg struct {
	jetstream.Msg
	subject string
	data    []byte
}

func (m fakeMsg) Subject() string { return m.subject }
func (m fakeMsg) Data() []byte    { return m.data }

func TestDeadLetter(t *testing.T) {
	r := &fakeRecorder{}
	dead := consumer.DeadLetter(r)
	msg := fakeMsg{subject: "support.ticket.created", data: []byte("junk")}
	if err := dead(context.Background(), msg, events.Event{}, errors.New("decode event: invalid character")); err != nil {
		t.Fatal(err)
	}
	if err := dead(context.Background(), msg, events.Event{ID: "ev-9"}, nil); err != nil {
		t.Fatal(err)
	}
	want := []audit.DeadLetter{
		{Subject: "support.ticket.created", Reason: "decode event: invalid character", Data: []byte("junk")},
		{Subject: "support.ticket.created", Reason: "unknown", Data: []byte("junk"), EventID: "ev-9"},
	}
	if diff := cmp.Diff(want, r.dead); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}

	// A failed write must reach the bus, which then keeps the message.
	r.err = errors.New("down")
	if err := dead(context.Background(), msg, events.Event{}, errors.New("x")); err == nil {
		t.Error("dead-letter hook hid a store failure")
	}
}

func TestConfig(t *testing.T) {
	want := bus.ConsumerConfig{
		Durable: "audit", FilterSubject: "support.>",
		MaxDeliver: 20160, AckWait: 30 * time.Second, MaxDelay: 30 * time.Second, BatchSize: 64, Linger: 5 * time.Millisecond, Workers: 2,
	}
	if diff := cmp.Diff(want, consumer.Config(64)); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	// A week of deliveries at the nak cap before a message is given up.
	if week := time.Duration(want.MaxDeliver) * want.MaxDelay; week < 7*24*time.Hour {
		t.Errorf("MaxDeliver x MaxDelay = %v, want at least a week", week)
	}
	if consumer.HandleTimeout >= want.AckWait {
		t.Errorf("HandleTimeout %v is not below AckWait %v", consumer.HandleTimeout, want.AckWait)
	}
}
