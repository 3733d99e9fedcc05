package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// BenchmarkListAtAMillion lists pages of a million tickets: the first page,
// a page a hundred thousand tickets deep by cursor and by OFFSET, and the
// filtered lists a user, a staff member and the open queue see. The cursor
// page should cost about what the first page costs; OFFSET shows why the
// cursor exists. Setting up the million rows takes a while; run it with
// `make bench` or -bench ListAtAMillion.
func BenchmarkListAtAMillion(b *testing.B) {
	pool, _ := pgtest.New(b, postgres.Migrations)
	ctx := context.Background()
	const n = 1_000_000
	pgtest.Exec(b, pool, `
INSERT INTO tickets.requests (owner_id, staff_id, text, status, priority, created_at)
SELECT 1 + i % 5000,
       CASE WHEN i % 3 = 0 THEN NULL ELSE 1 + i % 50 END,
       'ticket ' || i,
       (ARRAY['new','in_progress','completed','closed'])[1 + i % 4],
       (ARRAY['low','normal','high','urgent'])[1 + i % 4],
       timestamptz '2020-01-01' + i * interval '1 minute'
FROM generate_series(1, $1) AS i`, n)
	pgtest.Exec(b, pool, `ANALYZE tickets.requests`)
	store := postgres.NewStore(pool)

	// The cursor of the position 100,000 tickets deep.
	_, _, deep, err := store.List(ctx, ticket.Filter{}, ticket.Page{Number: 2000, Size: 50})
	if err != nil || deep == nil {
		b.Fatalf("deep cursor: %v", err)
	}
	owner, staff := int64(42), int64(7)
	status := ticket.StatusNew
	cases := []struct {
		name string
		f    ticket.Filter
		p    ticket.Page
	}{
		{"first-page", ticket.Filter{}, ticket.Page{Number: 1, Size: 50}},
		{"cursor-100k-deep", ticket.Filter{}, ticket.Page{Number: 1, Size: 50, After: deep}},
		{"offset-100k-deep", ticket.Filter{}, ticket.Page{Number: 2001, Size: 50}},
		{"owner", ticket.Filter{OwnerID: &owner}, ticket.Page{Number: 1, Size: 50}},
		{"staff", ticket.Filter{StaffID: &staff}, ticket.Page{Number: 1, Size: 50}},
		{"open-queue", ticket.Filter{Unassigned: true, Status: &status}, ticket.Page{Number: 1, Size: 50}},
		{"last-week", ticket.Filter{CreatedGTE: ptr(time.Date(2021, 11, 1, 0, 0, 0, 0, time.UTC)), CreatedLT: ptr(time.Date(2021, 11, 8, 0, 0, 0, 0, time.UTC))}, ticket.Page{Number: 1, Size: 50}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, _, _, err := store.List(ctx, c.f, c.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
