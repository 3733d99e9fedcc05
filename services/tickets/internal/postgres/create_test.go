package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// A create whose events cannot be made writes nothing, on the pipelined
// path (no idempotency key) and on the idempotent one; one that succeeds
// writes the ticket and its event.
func TestCreateWritesTicketAndEventOrNothing(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	ctx := context.Background()
	now := time.Now().UTC()
	draft := ticket.Ticket{OwnerID: 3, Text: "jammed", Status: ticket.StatusNew, Priority: ticket.PriorityNormal,
		CreatedAt: now, UpdatedAt: now, FirstResponseSLA: ticket.ClockNone, ResolutionSLA: ticket.ClockNone}
	errEvents := errors.New("no events")
	failing := func(ticket.Ticket) ([]events.Event, error) { return nil, errEvents }
	created := func(c ticket.Ticket) ([]events.Event, error) {
		ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCreated, c.DisplayID(), events.Actor{}, events.TicketCreated{After: c.Snapshot()})
		return []events.Event{ev}, err
	}
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
		v, err := store.Create(ctx, draft, key, created)
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
