package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// heldPublisher publishes once release is closed, and says on claimed
// that its relay has claimed a batch and begun publishing it.
type heldPublisher struct {
	pub      outbox.Publisher
	claimed  chan struct{}
	release  chan struct{}
	announce sync.Once
}

func (h *heldPublisher) Publish(ctx context.Context, ev events.Event) error {
	h.announce.Do(func() { close(h.claimed) })
	select {
	case <-h.release:
	case <-ctx.Done():
		return ctx.Err()
	}
	return h.pub.Publish(ctx, ev)
}

// Two relays of one outbox publish out of order when the first to claim a
// batch is the last to publish it: here a user's changes 6 to 10 reach the
// stream before 1 to 5. The directory still ends at the newest version.
func TestTheDirectoryTakesEventsFromTwoRelaysInAnyOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	nc, js, err := bus.Connect(natstest.Start(t), "order-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stream, err := bus.EnsureStream(ctx, js, bus.DefaultStream())
	if err != nil {
		t.Fatal(err)
	}

	user := func(v int64) events.User {
		return events.User{ID: 4, DisplayID: "USR000004", Email: fmt.Sprintf("v%d@example.com", v), Role: "user", Active: true, Version: v}
	}
	for v := int64(1); v <= 10; v++ {
		ev, err := events.New(ctx, events.SourceAuth, events.TypeUserProfileUpdated, "USR000004", events.Actor{ID: "4", Role: "user"},
			events.UserChanged{Before: user(v - 1), After: user(v)})
		if err != nil {
			t.Fatal(err)
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return postgres.Outbox.Add(ctx, tx, ev) }); err != nil {
			t.Fatal(err)
		}
	}

	relays, stopRelays := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() { stopRelays(); wg.Wait() }()
	cfg := outbox.RelayConfig{BatchSize: 5, PollInterval: 50 * time.Millisecond}
	held := &heldPublisher{pub: bus.NewPublisher(js), claimed: make(chan struct{}), release: make(chan struct{})}
	wg.Go(func() { _ = outbox.NewRelay(postgres.Outbox, pool, held, cfg, logger).Run(relays) })
	<-held.claimed // the first relay holds changes 1 to 5
	wg.Go(func() { _ = outbox.NewRelay(postgres.Outbox, pool, bus.NewPublisher(js), cfg, logger).Run(relays) })
	waitForMessages(t, ctx, stream, 5)
	close(held.release)
	waitForMessages(t, ctx, stream, 10)
	if first, err := stream.GetMsg(ctx, 1); err != nil || !contains(first.Data, "v6@example.com") {
		t.Fatalf("the stream's first message is not change 6: %v %s", err, first.Data)
	}

	cons, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "order-test", FilterSubject: "support.user.>"},
		bus.Applier(ticket.NewDirectory(store).Apply), bus.LogDeadLetter(logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cons.Stop(context.Background()) }()
	c, err := stream.Consumer(ctx, "order-test")
	if err != nil {
		t.Fatal(err)
	}
	for {
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.AckFloor.Stream == 10 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var email string
	var version int64
	if err := pool.QueryRow(ctx, `SELECT email, version FROM tickets.users WHERE id = 4`).Scan(&email, &version); err != nil {
		t.Fatal(err)
	}
	if email != "v10@example.com" || version != 10 {
		t.Errorf("the directory holds %s v%d after changes 6-10 and then 1-5, want v10@example.com v10", email, version)
	}
}

// waitForMessages waits until s holds n messages.
func waitForMessages(t *testing.T, ctx context.Context, s jetstream.Stream, n uint64) {
	t.Helper()
	for {
		info, err := s.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if info.State.Msgs >= n {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }
