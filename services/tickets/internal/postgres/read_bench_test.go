package postgres_test

import (
	"context"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// BenchmarkReads is the store's part of the two commonest requests, one
// ticket and a user's first page of 50 with its count, on 10,000 tickets of
// 100 users with names, half of them assigned: the statements and reading
// their rows into views.
func BenchmarkReads(b *testing.B) {
	pool, _ := pgtest.New(b, postgres.Migrations)
	ctx := context.Background()
	pgtest.Exec(b, pool, `
INSERT INTO tickets.users (id, email, role, first_name, last_name, father_name, inn, phone, active)
SELECT i, 'user' || i || '@example.com', CASE WHEN i <= 10 THEN 'staff' ELSE 'user' END,
       'First' || i, 'Last' || i, 'Father' || i, lpad(i::text, 12, '0'), '+7900' || lpad(i::text, 7, '0'), true
FROM generate_series(1, 100) AS i`)
	pgtest.Exec(b, pool, `
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, created_at)
SELECT 1 + i % 100, CASE WHEN i % 2 = 0 THEN 1 + i % 10 END, 'Title ' || i,
       repeat('The printer on floor 3 jams again. ', 4), 'new', 'normal', 'hardware',
       timestamptz '2026-01-01' + i * interval '1 minute'
FROM generate_series(1, 10000) AS i`)
	pgtest.Exec(b, pool, `VACUUM ANALYZE tickets.requests`)
	store := postgres.NewStore(pool)
	owner := int64(42)

	b.Run("get", func(b *testing.B) {
		for b.Loop() {
			if _, err := store.Get(ctx, 4242); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("list-page-of-50", func(b *testing.B) {
		for b.Loop() {
			views, _, _, err := store.List(ctx, ticket.Filter{OwnerID: &owner}, ticket.Page{Number: 1, Size: 50})
			if err != nil || len(views) != 50 {
				b.Fatalf("%d tickets, %v", len(views), err)
			}
		}
	})
}
