package postgres_test

import (
	"context"
	"net/url"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/cputime"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
)

// BenchmarkCreate is the store's part of creating a ticket, one at a time
// on one connection: the ticket and its event written in one transaction.
// Besides the time per create it reports the CPU that this process
// (cpu-ns/op) and the connection's PostgreSQL backend (pg-cpu-ns/op) spent
// on each: what the transaction's round trips cost both sides. The
// backend's CPU comes in steps of 10 ms: run a few thousand creates.
func BenchmarkCreate(b *testing.B) {
	_, dbURL := pgtest.New(b, postgres.Migrations)
	u, err := url.Parse(dbURL)
	if err != nil {
		b.Fatal(err)
	}
	q := u.Query()
	q.Set("pool_max_conns", "1")
	u.RawQuery = q.Encode()
	pool, err := pgdb.Open(context.Background(), u.String())
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	store := postgres.NewStore(pool)
	ctx := context.Background()
	create := func() {
		if _, err := store.Create(ctx, newDraft(), nil, ticketCreated); err != nil {
			b.Fatal(err)
		}
	}
	create() // statements prepared on the connection
	var backend int
	if err := pool.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil {
		b.Fatal(err)
	}
	cpu := func() (self, pg time.Duration) {
		self, err := cputime.Self()
		if err != nil {
			b.Fatal(err)
		}
		if _, pg, err = cputime.Of(backend); err != nil {
			b.Fatalf("the PostgreSQL backend's CPU (PostgreSQL must run on this machine): %v", err)
		}
		return self, pg
	}

	b.ReportAllocs()
	self, pg := cpu()
	for b.Loop() {
		create()
	}
	selfAfter, pgAfter := cpu()
	b.ReportMetric(float64(selfAfter-self)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(pgAfter-pg)/float64(b.N), "pg-cpu-ns/op")
}
