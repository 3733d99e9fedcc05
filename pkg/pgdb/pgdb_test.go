package pgdb_test

import (
	"context"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

var migrations = pgdb.Migrations{Table: "demo_schema_migrations", FS: fstest.MapFS{
	"1_a.up.sql":   {Data: []byte("CREATE TABLE a (id int)")},
	"1_a.down.sql": {Data: []byte("DROP TABLE a")},
	"2_b.up.sql":   {Data: []byte("CREATE TABLE b (id int)")},
	"2_b.down.sql": {Data: []byte("DROP TABLE b")},
}}

func TestMigrateCommand(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	run := func(args ...string) string {
		t.Helper()
		var out strings.Builder
		if err := migrations.Command(dbURL, args, &out); err != nil {
			t.Fatalf("migrate %v: %v", args, err)
		}
		return strings.TrimSpace(out.String())
	}
	if got := run("version"); got != "version: none" {
		t.Errorf("fresh version = %q", got)
	}
	if got := run("up"); got != "version: 2 dirty: false" {
		t.Errorf("after up = %q", got)
	}
	if err := migrations.Up(dbURL); err != nil {
		t.Errorf("Up on a migrated database: %v", err)
	}
	if got := run("down"); got != "version: 1 dirty: false" {
		t.Errorf("after down = %q", got)
	}

	pool, err := pgdb.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('a','b')"); n != 1 {
		t.Errorf("%d of tables a, b exist after one step down, want 1", n)
	}

	// A migration that failed half-way leaves its version dirty; once
	// mended by hand, force records the version as clean.
	if _, err := pool.Exec(context.Background(), "UPDATE demo_schema_migrations SET version = 2, dirty = true"); err != nil {
		t.Fatal(err)
	}
	if got := run("version"); got != "version: 2 dirty: true" {
		t.Errorf("after a failed migration = %q", got)
	}
	if got := run("force", "1"); got != "version: 1 dirty: false" {
		t.Errorf("after force 1 = %q", got)
	}
	if got := run("up"); got != "version: 2 dirty: false" {
		t.Errorf("up after force = %q", got)
	}

	for _, bad := range [][]string{nil, {"sideways"}, {"down", "0"}, {"force"}, {"force", "x"}, {"up", "extra"}, {"down", "1", "2"}} {
		if err := migrations.Command(dbURL, bad, &strings.Builder{}); err == nil {
			t.Errorf("migrate %v succeeded", bad)
		}
	}
}

func TestOpenRejectsUnreachableDatabase(t *testing.T) {
	if _, err := pgdb.Open(context.Background(), "postgres://postgres@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open succeeded against a closed port")
	}
}

// A pool reads timestamptz values in UTC whatever the process's local zone,
// so stores scan rows straight into domain types.
func TestOpenReadsTimesInUTC(t *testing.T) {
	local := time.Local
	time.Local = time.FixedZone("UTC+3", 3*3600)
	defer func() { time.Local = local }()

	pool, err := pgdb.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var at time.Time
	if err := pool.QueryRow(context.Background(), `SELECT '2026-11-27 10:00:00+03'::timestamptz`).Scan(&at); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC); at.Location() != time.UTC || !at.Equal(want) {
		t.Errorf("read %v, want %v", at, want)
	}
}

func TestMigrationsOpen(t *testing.T) {
	dbURL := pgtest.NewDatabase(t)
	pool, err := migrations.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM information_schema.tables WHERE table_name IN ('a','b')"); n != 2 {
		t.Errorf("%d of tables a, b exist, want both", n)
	}
}

func TestIsUniqueViolation(t *testing.T) {
	pool, err := pgdb.Open(context.Background(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	pgtest.Exec(t, pool, "CREATE TABLE k (id int PRIMARY KEY)")
	pgtest.Exec(t, pool, "INSERT INTO k VALUES (1)")
	_, dup := pool.Exec(context.Background(), "INSERT INTO k VALUES (1)")
	_, other := pool.Exec(context.Background(), "INSERT INTO k VALUES ('x')")
	if !pgdb.IsUniqueViolation(dup) || pgdb.IsUniqueViolation(other) || pgdb.IsUniqueViolation(nil) {
		t.Errorf("IsUniqueViolation(dup %v) / (other %v)", dup, other)
	}
}
