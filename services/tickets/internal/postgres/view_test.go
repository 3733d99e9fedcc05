package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// Views are read by column position: every column of a ticket and of its
// two people must land in its own field. The ticket and its people hold a
// different value in every column, so two columns read into each other's
// fields show as a difference.
func TestViewsReadEveryColumn(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	ctx := context.Background()
	pgtest.Exec(t, pool, `
INSERT INTO tickets.users (id, email, role, first_name, last_name, father_name, inn, phone, active) VALUES
    (7, 'owner@example.com', 'user', 'Olga', 'Orlova', 'Olegovna', '770000000007', '+79000000007', true),
    (8, 'staff@example.com', 'staff', 'Sergei', 'Smirnov', 'Stepanovich', '780000000008', '+79000000008', false)`)
	at := func(minute int) time.Time { return time.Date(2026, 3, 1, 10, minute, 0, 0, time.UTC) }
	pgtest.Exec(t, pool, `
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, staff_comment, version,
    created_at, updated_at, first_response_at, resolved_at, first_response_due_at, resolution_due_at,
    first_response_sla, resolution_sla)
VALUES (7, 8, 'the title', 'the text', 'completed', 'high', 'the category', 'the staff comment', 3,
    $1, $2, $3, $4, $5, $6, 'met', 'breached')`, at(1), at(2), at(3), at(4), at(5), at(6))

	want := ticket.View{
		Ticket: ticket.Ticket{
			ID: 1, OwnerID: 7, StaffID: new(int64(8)), Title: new("the title"), Text: "the text",
			Status: ticket.StatusCompleted, Priority: ticket.PriorityHigh, Category: new("the category"),
			StaffComment: new("the staff comment"), Version: 3, CreatedAt: at(1), UpdatedAt: at(2),
			FirstResponseAt: new(at(3)), ResolvedAt: new(at(4)), FirstResponseDueAt: new(at(5)), ResolutionDueAt: new(at(6)),
			FirstResponseSLA: ticket.ClockMet, ResolutionSLA: ticket.ClockBreached,
		},
		Owner: ticket.User{ID: 7, Email: "owner@example.com", Role: access.RoleUser, FirstName: new("Olga"),
			LastName: new("Orlova"), FatherName: new("Olegovna"), INN: new("770000000007"), Phone: new("+79000000007"), Active: true},
		Staff: &ticket.User{ID: 8, Email: "staff@example.com", Role: access.RoleStaff, FirstName: new("Sergei"),
			LastName: new("Smirnov"), FatherName: new("Stepanovich"), Active: false},
	}
	same := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })

	got, err := store.Get(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, same); d != "" {
		t.Errorf("Get (-want +got):\n%s", d)
	}
	owner := int64(7)
	list, total, _, err := store.List(ctx, ticket.Filter{OwnerID: &owner}, ticket.Page{Number: 1, Size: 50})
	if err != nil {
		t.Fatal(err)
	}
	if total != 1 || len(list) != 1 {
		t.Fatalf("List: %d tickets of %d, want 1 of 1", len(list), total)
	}
	if d := cmp.Diff(want, list[0], same); d != "" {
		t.Errorf("List (-want +got):\n%s", d)
	}
}
