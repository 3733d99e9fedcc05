package postgres_test

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

func TestStoreExport(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	pgtest.Exec(t, pool, `
INSERT INTO tickets.users (id, email, role, first_name, last_name, father_name, inn, phone, active) VALUES
 (2, 'staff@company.com', 'staff', NULL, NULL, NULL, NULL, NULL, false),
 (3, 'ann@example.com', 'user', 'Ann', NULL, 'Ivanovna', '1234567890', '+79001234567', true)`)
	// 1 and 2 share a creation time: the higher id comes first. 3's owner
	// is not in the directory yet.
	pgtest.Exec(t, pool, `
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, staff_comment, created_at, updated_at) VALUES
 (3, 2, 'Title', 'first', 'in_progress', 'high', 'hardware', 'on it', '2026-03-01 10:00:00+03', '2026-03-02 10:00:00+03'),
 (3, NULL, NULL, 'second', 'new', 'normal', NULL, NULL, '2026-03-01 10:00:00+03', '2026-03-01 10:00:00+03'),
 (42, NULL, NULL, 'third', 'closed', 'low', NULL, NULL, '2026-02-01 00:00:00Z', '2026-02-01 00:00:00Z')`)

	var got []ticket.ExportRow
	collect := func(r ticket.ExportRow) error { got = append(got, r); return nil }
	if err := store.Export(context.Background(), ticket.Filter{}, collect); err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	ann := ticket.ExportRow{OwnerEmail: "ann@example.com", OwnerFirstName: "Ann", OwnerFatherName: "Ivanovna",
		OwnerINN: "1234567890", OwnerPhone: "+79001234567"}
	second := ann
	second.ID, second.Text, second.Status, second.Priority = 2, "second", ticket.StatusNew, ticket.PriorityNormal
	second.CreatedAt, second.UpdatedAt = at("2026-03-01T07:00:00Z"), at("2026-03-01T07:00:00Z")
	first := ann
	first.ID, first.Title, first.Text, first.Status, first.Priority = 1, "Title", "first", ticket.StatusInProgress, ticket.PriorityHigh
	first.Category, first.StaffComment, first.StaffEmail = "hardware", "on it", "staff@company.com"
	first.CreatedAt, first.UpdatedAt = at("2026-03-01T07:00:00Z"), at("2026-03-02T07:00:00Z")
	third := ticket.ExportRow{ID: 3, Text: "third", Status: ticket.StatusClosed, Priority: ticket.PriorityLow,
		CreatedAt: at("2026-02-01T00:00:00Z"), UpdatedAt: at("2026-02-01T00:00:00Z")}
	want := []ticket.ExportRow{second, first, third}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("export\n got %+v\nwant %+v", got, want)
	}
	for _, r := range got {
		if r.CreatedAt.Location() != time.UTC || r.UpdatedAt.Location() != time.UTC {
			t.Errorf("row %d times are not UTC: %v %v", r.ID, r.CreatedAt, r.UpdatedAt)
		}
	}
	if name := first.OwnerName(); name != "Ann Ivanovna" {
		t.Errorf("owner name = %q", name)
	}

	t.Run("filter", func(t *testing.T) {
		got = nil
		status := ticket.StatusNew
		if err := store.Export(context.Background(), ticket.Filter{Status: &status}, collect); err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].ID != 2 {
			t.Errorf("got %+v", got)
		}
	})

	t.Run("a write error stops the export", func(t *testing.T) {
		stop := errors.New("client went away")
		calls := 0
		err := store.Export(context.Background(), ticket.Filter{}, func(ticket.ExportRow) error {
			calls++
			if calls == 2 {
				return stop
			}
			return nil
		})
		if !errors.Is(err, stop) || calls != 2 {
			t.Errorf("err %v after %d calls, want %v after 2", err, calls, stop)
		}
		// The connection went back to the pool in a usable state.
		if n := pgtest.Count(t, pool, `SELECT count(*) FROM tickets.requests`); n != 3 {
			t.Errorf("count = %d", n)
		}
	})
}

func TestStoreStatisticsDurations(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	// One ticket: answered after 90 minutes and 0.25 s, resolved after a day.
	pgtest.Exec(t, pool, `
INSERT INTO tickets.requests (owner_id, text, status, created_at, first_response_at, resolved_at) VALUES
 (3, 'x', 'completed', '2026-03-01 10:00:00Z', '2026-03-01 11:30:00.25Z', '2026-03-02 10:00:00Z')`)
	st, err := store.Statistics(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.MedianFirstResponse == nil || *st.MedianFirstResponse != 90*time.Minute+250*time.Millisecond {
		t.Errorf("median first response = %v", st.MedianFirstResponse)
	}
	if st.MedianResolution == nil || *st.MedianResolution != 24*time.Hour {
		t.Errorf("median resolution = %v", st.MedianResolution)
	}
	want := map[ticket.Priority]int64{ticket.PriorityLow: 0, ticket.PriorityNormal: 1, ticket.PriorityHigh: 0, ticket.PriorityUrgent: 0}
	if !reflect.DeepEqual(st.ByPriority, want) || st.Requests != (ticket.Counts{Total: 1, Completed: 1}) {
		t.Errorf("statistics = %+v", st)
	}
}
