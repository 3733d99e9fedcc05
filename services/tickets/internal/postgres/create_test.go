package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// newDraft is a ticket of user 3 as the service hands it to the store.
func newDraft() ticket.Ticket {
	now := time.Now().UTC()
	return ticket.Ticket{OwnerID: 3, Text: "jammed", Status: ticket.StatusNew, Priority: ticket.PriorityNormal,
		CreatedAt: now, UpdatedAt: now, FirstResponseSLA: ticket.ClockNone, ResolutionSLA: ticket.ClockNone}
}

// ticketCreated is the event of a created ticket.
func ticketCreated(c ticket.Ticket) ([]events.Event, error) {
	ev, err := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, c.DisplayID(), events.Actor{},
		events.TicketCreated{After: c.Snapshot()})
	return []events.Event{ev}, err
}

// A create whose events cannot be made writes nothing, on the pipelined
// path (no idempotency key) and on the idempotent one; one that succeeds
// writes the ticket and its event.
func TestCreateWritesTicketAndEventOrNothing(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	ctx := context.Background()
	draft := newDraft()
	errEvents := errors.New("no events")
	failing := func(ticket.Ticket) ([]events.Event, error) { return nil, errEvents }
	idem := &ticket.Idempotency{ActorID: 3, Scope: "create", Key: "k1", Hash: []byte{1}}

	for _, key := range []*ticket.Idempotency{nil, idem} {
		if _, err := store.Create(ctx, draft, key, failing); !errors.Is(err, errEvents) {
			t.Errorf("key %v: create with failing events: %v, want their error", key, err)
		}
	}
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM tickets.requests"); n != 0 {
		t.Errorf("%d tickets left by failed creates", n)
	}
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM tickets.idempotency_keys"); n != 0 {
		t.Errorf("%d idempotency keys left by failed creates", n)
	}

	for _, key := range []*ticket.Idempotency{nil, idem} {
		v, err := store.Create(ctx, draft, key, ticketCreated)
		if err != nil {
			t.Fatalf("key %v: %v", key, err)
		}
		if v.ID == 0 || v.Text != "jammed" || v.OwnerID != 3 {
			t.Errorf("key %v: created %+v", key, v)
		}
		if n := pgtest.Count(t, pool, "SELECT count(*) FROM tickets.outbox WHERE event->>'subject' = $1", v.DisplayID()); n != 1 {
			t.Errorf("key %v: %d events of %s in the outbox, want 1", key, n, v.DisplayID())
		}
	}
}

// Concurrent creates with one idempotency key make one ticket and one
// event; every one of them answers with it (the losers of the race on the
// key retry and replay).
func TestCreateWithOneKeyConcurrently(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	ctx := context.Background()
	draft := newDraft()
	idem := &ticket.Idempotency{ActorID: 3, Scope: "create", Key: "retry", Hash: []byte{1}}

	ids := make([]int64, 8)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			v, err := store.Create(ctx, draft, idem, ticketCreated)
			if err != nil {
				t.Errorf("create %d: %v", i, err)
			}
			ids[i] = v.ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] || id == 0 {
			t.Fatalf("the creates answered tickets %v, want one", ids)
		}
	}
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM tickets.requests"); n != 1 {
		t.Errorf("%d tickets, want 1", n)
	}
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM tickets.outbox"); n != 1 {
		t.Errorf("%d events, want 1", n)
	}
}
