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
	err  error
	dead []audit.DeadLetter
}

func (r *fakeRecorder) Record(ctx context.Context, _ events.Event) (bool, error) {
	if _, ok := ctx.Deadline(); !ok {
		return false, errors.New("no deadline on the handling of a message")
	}
	return r.err == nil, r.err
}

func (r *fakeRecorder) RecordDeadLetter(_ context.Context, d audit.DeadLetter) error {
	r.dead = append(r.dead, d)
	return r.err
}

func TestHandlerClassifiesFailures(t *testing.T) {
	down := errors.New("server selection error: context deadline exceeded")
	tests := []struct {
		name      string
		err       error
		wantErr   bool
		permanent bool
	}{
		{"stored", nil, false, false},
		{"invalid event: term", fmt.Errorf("record: %w", audit.ErrInvalidEvent), true, true},
		{"database down: retry", down, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := consumer.Handler(&fakeRecorder{err: tt.err})(context.Background(), events.Event{ID: "e"})
			if (err != nil) != tt.wantErr || bus.IsPermanent(err) != tt.permanent {
				t.Errorf("handler error = %v (permanent %v), want error %v, permanent %v",
					err, bus.IsPermanent(err), tt.wantErr, tt.permanent)
			}
			if tt.err != nil && !errors.Is(err, tt.err) {
				t.Errorf("handler error %v does not wrap %v", err, tt.err)
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
		MaxDeliver: 20160, AckWait: 30 * time.Second, MaxDelay: 30 * time.Second,
	}
	if diff := cmp.Diff(want, consumer.Config()); diff != "" {
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
