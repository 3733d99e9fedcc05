package postgres_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// BenchmarkCreate is the store's part of creating a ticket, one at a time
// on one connection: the ticket and its event written in one transaction.
// Besides the time per create it reports the CPU that this process
// (cpu-ns/op) and the connection's PostgreSQL backend (pg-cpu-ns/op) spent
// on each: what the transaction's round trips cost both sides.
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
	evs := func(c ticket.Ticket) ([]events.Event, error) {
		ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCreated, c.DisplayID(), events.Actor{ID: "3", Role: "user"},
			events.TicketCreated{After: c.Snapshot()})
		return []events.Event{ev}, err
	}
	create := func() {
		now := time.Now().UTC()
		t := ticket.Ticket{OwnerID: 3, Text: "The printer on floor 3 jams again", Status: ticket.StatusNew,
			Priority: ticket.PriorityNormal, CreatedAt: now, UpdatedAt: now,
			FirstResponseSLA: ticket.ClockNone, ResolutionSLA: ticket.ClockNone}
		if _, err := store.Create(ctx, t, nil, evs); err != nil {
			b.Fatal(err)
		}
	}
	create() // statements prepared on the connection
	backend := backendCPU(b, pool)

	b.ReportAllocs()
	self, pg := processCPU(b), backend()
	for b.Loop() {
		create()
	}
	b.ReportMetric(float64(processCPU(b)-self)/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(backend()-pg)/float64(b.N), "pg-cpu-ns/op")
}

// processCPU is the CPU time this process has used, user and system.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU returns a reading of the CPU time used by the PostgreSQL
// backend serving pool's one connection (from /proc, in clock ticks of
// 10 ms: run enough operations between two readings).
func backendCPU(b *testing.B, pool *pgxpool.Pool) func() time.Duration {
	var pid int
	if err := pool.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
		b.Fatal(err)
	}
	return func() time.Duration {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			b.Fatalf("the PostgreSQL backend's CPU (PostgreSQL must run on this machine): %v", err)
		}
		// Fields after the command's closing parenthesis; utime and
		// stime are the 12th and 13th of them.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		var user, sys int64
		fmt.Sscan(f[11], &user)
		fmt.Sscan(f[12], &sys)
		return time.Duration(user+sys) * 10 * time.Millisecond
	}
}
