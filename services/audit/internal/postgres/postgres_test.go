package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/postgres"
	"github.com/supportdesk/supportdesk/services/audit/internal/storetest"
)

// TestConformance runs the store suite against PostgreSQL, each store on a
// migrated database of its own.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T) storetest.Store {
			pool, _ := pgtest.New(t, postgres.Migrations)
			return postgres.New(pool)
		},
		Refused: func(id string) audit.Entry {
			e := storetest.Entry(id, audit.ActionCreateRequest, 1, "1", storetest.Base)
			e.Subject = "REQ\x00" // text cannot hold NUL
			return e
		},
	})
}

func TestSaveDeadLetter(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	s := postgres.New(pool)
	ctx := context.Background()
	for _, d := range []audit.DeadLetter{
		{Subject: "support.ticket.created", Reason: "decode event: invalid character", Data: []byte("not json \xff\x00"), ReceivedAt: storetest.Base},
		{Subject: "support.ticket.created", Reason: "data is not an object", Data: []byte(`{"id":"x"}`), EventID: "x", ReceivedAt: storetest.Base},
	} {
		if err := s.SaveDeadLetter(ctx, d); err != nil {
			t.Fatalf("SaveDeadLetter: %v", err)
		}
	}
	rows, err := pool.Query(ctx, `SELECT subject, reason, data, coalesce(event_id, ''), received_at = $1 FROM audit.dead_letters ORDER BY id`, storetest.Base)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
		var subject, reason, data, id string
		var at bool
		err := r.Scan(&subject, &reason, &data, &id, &at)
		return strings.Join([]string{subject, reason, data, id, map[bool]string{true: "at base", false: "wrong time"}[at]}, " | "), err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"support.ticket.created | decode event: invalid character | not json \uFFFD\uFFFD |  | at base",
		`support.ticket.created | data is not an object | {"id":"x"} | x | at base`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s", diff)
	}
}

// TestMigrationsGoDownAndUp: the schema's down migration undoes it, so
// `audit migrate down` works.
func TestMigrationsGoDownAndUp(t *testing.T) {
	_, url := pgtest.New(t, postgres.Migrations)
	var out strings.Builder
	if err := postgres.Migrations.Command(url, []string{"down", "1"}, &out); err != nil {
		t.Fatal(err)
	}
	if err := postgres.Migrations.Up(url); err != nil {
		t.Fatal(err)
	}
}
