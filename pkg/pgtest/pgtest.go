// Package pgtest gives each test a fresh PostgreSQL database of its own on
// the machine's server, created for the test and dropped after it.
package pgtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/pgdb"
)

// AdminURL is the server tests use, from PGTEST_URL or the local default.
func AdminURL() string {
	if u := os.Getenv("PGTEST_URL"); u != "" {
		return u
	}
	return "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
}

// NewDatabase creates an empty database for the test, drops it when the test
// ends, and returns its URL.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminURL())
	if err != nil {
		tb.Fatalf("pgtest: connect to %s (is PostgreSQL running? `make test` starts it): %v", AdminURL(), err)
	}
	defer admin.Close(ctx)

	name := "test_" + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("pgtest: create database: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, AdminURL())
		if err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("pgtest: drop %s: %v", name, err)
		}
	})

	u, err := url.Parse(AdminURL())
	if err != nil {
		tb.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// New creates a database for the test, applies m to it and returns a pool on
// it that is closed when the test ends.
func New(tb testing.TB, m pgdb.Migrations) (*pgxpool.Pool, string) {
	tb.Helper()
	dbURL := NewDatabase(tb)
	if err := m.Up(dbURL); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := pgdb.Open(ctx, dbURL)
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool, dbURL
}

// Exec runs sql on pool and fails the test on error.
func Exec(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) {
	tb.Helper()
	if _, err := pool.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", strings.TrimSpace(sql), err)
	}
}

// Count returns the single integer that query selects.
func Count(tb testing.TB, pool *pgxpool.Pool, query string, args ...any) int {
	tb.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		tb.Fatalf("pgtest: %s: %v", query, err)
	}
	return n
}

// Lock runs sql, which takes a lock (LOCK TABLE, SELECT … FOR UPDATE), in a
// transaction of its own on pool and keeps the lock until release is
// called or the test ends, for a test of what waits on it.
func Lock(tb testing.TB, pool *pgxpool.Pool, sql string, args ...any) (release func()) {
	tb.Helper()
	tx, err := pool.Begin(context.Background())
	if err != nil {
		tb.Fatalf("pgtest: begin: %v", err)
	}
	release = func() { _ = tx.Rollback(context.Background()) } // a no-op once done
	tb.Cleanup(release)
	if _, err := tx.Exec(context.Background(), sql, args...); err != nil {
		tb.Fatalf("pgtest: %s: %v", strings.TrimSpace(sql), err)
	}
	return release
}
