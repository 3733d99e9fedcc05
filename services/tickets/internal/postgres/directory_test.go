package postgres_test

import (
	"context"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// A user's events may arrive out of order (several relays publish auth's
// outbox): an older version never replaces a newer entry.
func TestPutUserKeepsTheNewestVersion(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	ctx := context.Background()
	put := func(email string, role access.Role, version int64) {
		t.Helper()
		if err := store.PutUser(ctx, ticket.User{ID: 4, Email: email, Role: role, Active: true}, version); err != nil {
			t.Fatal(err)
		}
	}
	read := func() (email, role string, version int64) {
		t.Helper()
		if err := pool.QueryRow(ctx, `SELECT email, role, version FROM tickets.users WHERE id = 4`).Scan(&email, &role, &version); err != nil {
			t.Fatal(err)
		}
		return email, role, version
	}

	pgtest.Exec(t, pool, `INSERT INTO tickets.users (id, email, role, active) VALUES (4, 'legacy@example.com', 'user', true)`)
	put("v3@example.com", access.RoleStaff, 3) // replaces an entry from before versions
	put("v2@example.com", access.RoleUser, 2)  // late: ignored
	put("v3@example.com", access.RoleStaff, 3) // redelivered: the same
	if email, role, v := read(); email != "v3@example.com" || role != "staff" || v != 3 {
		t.Errorf("entry = %s %s v%d, want v3@example.com staff v3", email, role, v)
	}
	put("v4@example.com", access.RoleStaff, 4)
	if email, _, v := read(); email != "v4@example.com" || v != 4 {
		t.Errorf("entry = %s v%d, want v4@example.com v4", email, v)
	}
}
