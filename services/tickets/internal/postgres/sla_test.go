package postgres_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// slaFixture: 500 tickets whose first-response clock is past due, the even
// ones' resolution clock too; and tickets that must not be breached: a
// clock due in an hour, a met clock past its due time, a ticket without
// clocks.
const slaFixture = `
INSERT INTO tickets.requests (owner_id, text, priority, first_response_sla, first_response_due_at, resolution_sla, resolution_due_at)
SELECT 3, 'due ' || n, 'urgent', 'pending', now() - interval '1 second',
       'pending', CASE WHEN n % 2 = 0 THEN now() - interval '1 second' ELSE now() + interval '1 hour' END
FROM generate_series(1, 500) AS n;
INSERT INTO tickets.requests (owner_id, text, priority, first_response_sla, first_response_due_at, resolution_sla, resolution_due_at) VALUES
 (3, 'not due yet', 'urgent', 'pending', now() + interval '1 hour', 'pending', now() + interval '4 hours'),
 (3, 'met', 'urgent', 'met', now() - interval '1 hour', 'met', now() - interval '1 hour'),
 (3, 'no clocks', 'low', 'none', NULL, 'none', NULL);`

// Four replicas' clock jobs at once mark every clock past due once, with
// one event each, and nothing else.
func TestBreachDueOncePerClock(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	pgtest.Exec(t, pool, slaFixture)
	ctx := context.Background()

	var wg sync.WaitGroup
	marked := make([]int, 4)
	for i := range marked {
		svc := ticket.NewService(postgres.NewStore(pool), nil) // a replica of its own
		wg.Go(func() {
			for range 3 {
				n, err := svc.BreachDue(ctx)
				if err != nil {
					t.Errorf("replica %d: %v", i, err)
				}
				marked[i] += n
			}
		})
	}
	wg.Wait()
	total := 0
	for _, n := range marked {
		total += n
	}
	if total != 750 {
		t.Errorf("the replicas marked %v clocks, %d in all; want 750 (500 first responses, 250 resolutions)", marked, total)
	}

	var events, distinct, firstResponses, resolutions, wrongDue int
	err := pool.QueryRow(ctx, `
SELECT count(*), count(DISTINCT (event->>'subject', event->'data'->>'kind')),
       count(*) FILTER (WHERE event->'data'->>'kind' = 'first_response'),
       count(*) FILTER (WHERE event->'data'->>'kind' = 'resolution'),
       count(*) FILTER (WHERE (event->'data'->>'due_at')::timestamptz > now())
FROM tickets.outbox WHERE event->>'type' = 'support.ticket.sla_breached.v1'`).Scan(&events, &distinct, &firstResponses, &resolutions, &wrongDue)
	if err != nil {
		t.Fatal(err)
	}
	if events != 750 || distinct != 750 || firstResponses != 500 || resolutions != 250 || wrongDue != 0 {
		t.Errorf("outbox: %d breach events, %d distinct (ticket, kind), %d first responses, %d resolutions, %d due in the future; want 750, 750, 500, 250, 0",
			events, distinct, firstResponses, resolutions, wrongDue)
	}
	var untouched int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets.requests WHERE text IN ('not due yet', 'met', 'no clocks')
AND first_response_sla <> 'breached' AND resolution_sla <> 'breached'`).Scan(&untouched); err != nil {
		t.Fatal(err)
	}
	if untouched != 3 {
		t.Errorf("%d of the 3 tickets not due were left alone", untouched)
	}
	if n, err := ticket.NewService(postgres.NewStore(pool), nil).BreachDue(ctx); n != 0 || err != nil {
		t.Errorf("a second pass marked %d (%v), want none", n, err)
	}
}

// The staff lists' sla filter sorts tickets as their SLA shows them.
func TestSLAFilter(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	pgtest.Exec(t, pool, `
INSERT INTO tickets.requests (owner_id, text, created_at, first_response_sla, first_response_due_at, resolution_sla, resolution_due_at) VALUES
 (3, 'breached, marked',      now() - interval '2 hours', 'breached', now() - interval '1 hour', 'pending', now() + interval '2 hours'),
 (3, 'breached, not marked',  now() - interval '2 hours', 'met', now() - interval '1 hour', 'pending', now() - interval '1 second'),
 (3, 'at risk',               now() - interval '50 minutes', 'pending', now() + interval '10 minutes', 'pending', now() + interval '3 hours'),
 (3, 'ok, running',           now() - interval '10 minutes', 'pending', now() + interval '50 minutes', 'pending', now() + interval '4 hours'),
 (3, 'ok, met',               now() - interval '2 hours', 'met', now() - interval '1 hour', 'met', now() + interval '2 hours'),
 (3, 'ok, no clocks',         now(), 'none', NULL, 'none', NULL);`)
	for f, want := range map[ticket.SLAFilter][]string{
		ticket.SLABreached: {"breached, marked", "breached, not marked"},
		ticket.SLAAtRisk:   {"at risk"},
		ticket.SLAOK:       {"ok, running", "ok, met", "ok, no clocks"},
	} {
		views, total, _, err := store.List(context.Background(), ticket.Filter{SLA: f}, ticket.Page{Number: 1, Size: 10})
		if err != nil {
			t.Fatalf("sla=%s: %v", f, err)
		}
		var got []string
		for _, v := range views {
			got = append(got, v.Text)
		}
		if total != int64(len(want)) || !sameSet(got, want) {
			t.Errorf("sla=%s: %v (total %d), want %v", f, got, total, want)
		}
		for _, v := range views {
			s := v.SLA(time.Now())
			if breached := s.FirstResponseBreached || s.ResolutionBreached; breached != (f == ticket.SLABreached) {
				t.Errorf("sla=%s lists %q, whose SLA shows breached = %t", f, v.Text, breached)
			}
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
