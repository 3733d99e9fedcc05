package pgdb_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// trips counts what a pool sends: batches, and statements sent on their
// own (each a round trip).
type trips struct{ batches, statements atomic.Int64 }

func (c *trips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.statements.Add(1)
	return ctx
}
func (c *trips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *trips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.batches.Add(1)
	return ctx
}
func (c *trips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (c *trips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// pipelinePool is a pool of one connection on a new database with tables
// parent (id serial) and child (parent_id, unique), counted by the returned
// trips.
func pipelinePool(t *testing.T) (*pgxpool.Pool, *trips) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	counted := &trips{}
	cfg.ConnConfig.Tracer = counted
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	pgtest.Exec(t, pool, "CREATE TABLE parent (id serial PRIMARY KEY, name text NOT NULL)")
	pgtest.Exec(t, pool, "CREATE TABLE child (parent_id int UNIQUE REFERENCES parent)")
	counted.batches.Store(0)
	counted.statements.Store(0)
	return pool, counted
}

// addFamily inserts a parent named name and, in the second round trip, a
// child of it with id childID (the id of the parent when 0).
func addFamily(ctx context.Context, pool *pgxpool.Pool, name string, childID int) (parent int, err error) {
	first := &pgx.Batch{}
	first.Queue("INSERT INTO parent (name) VALUES ($1) RETURNING id", name)
	err = pgdb.Pipelined(ctx, pool, first, func(br pgx.BatchResults, last *pgx.Batch) error {
		if err := br.QueryRow().Scan(&parent); err != nil {
			return err
		}
		if childID == 0 {
			childID = parent
		}
		last.Queue("INSERT INTO child VALUES ($1)", childID)
		return nil
	})
	return parent, err
}

func TestPipelinedCommitsInTwoRoundTrips(t *testing.T) {
	pool, counted := pipelinePool(t)
	parent, err := addFamily(context.Background(), pool, "a", 0)
	if err != nil {
		t.Fatal(err)
	}
	if b, s := counted.batches.Load(), counted.statements.Load(); b != 2 || s != 0 {
		t.Errorf("sent %d batches and %d statements on their own, want 2 and 0", b, s)
	}
	if n := pgtest.Count(t, pool, "SELECT count(*) FROM child WHERE parent_id = $1", parent); n != 1 {
		t.Errorf("%d children of the parent committed, want 1", n)
	}
}

func TestPipelinedCommitsNothingOnFailure(t *testing.T) {
	ctx := context.Background()
	pool, _ := pipelinePool(t)
	first, err := addFamily(ctx, pool, "first", 0)
	if err != nil {
		t.Fatal(err)
	}

	// A statement of the second round trip fails: the first's are undone.
	if _, err := addFamily(ctx, pool, "dup child", first); !pgdb.IsUniqueViolation(err) {
		t.Errorf("second round trip failing: %v, want a unique violation", err)
	}
	// then fails.
	errThen := errors.New("then failed")
	batch := &pgx.Batch{}
	batch.Queue("INSERT INTO parent (name) VALUES ('then fails')")
	err = pgdb.Pipelined(ctx, pool, batch, func(pgx.BatchResults, *pgx.Batch) error { return errThen })
	if !errors.Is(err, errThen) {
		t.Errorf("then failing: %v, want its error", err)
	}
	// A statement of the first round trip fails: then reads its error.
	batch = &pgx.Batch{}
	batch.Queue("INSERT INTO parent (name) VALUES ('before')")
	batch.Queue("INSERT INTO parent (name) VALUES (NULL)")
	err = pgdb.Pipelined(ctx, pool, batch, func(br pgx.BatchResults, last *pgx.Batch) error {
		for range 2 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		last.Queue("INSERT INTO parent (name) VALUES ('never')")
		return nil
	})
	if err == nil {
		t.Error("first round trip failing: no error")
	}

	if n := pgtest.Count(t, pool, "SELECT count(*) FROM parent"); n != 1 {
		t.Errorf("%d parents committed, want only the first", n)
	}
	// Each failure ended its transaction: the pool's one connection is
	// still the first and serves another.
	if _, err := addFamily(ctx, pool, "after", 0); err != nil {
		t.Errorf("after the failures: %v", err)
	}
	if n := pool.Stat().NewConnsCount(); n != 1 {
		t.Errorf("%d connections opened, want 1 (a failed transaction's connection is reused)", n)
	}
}
