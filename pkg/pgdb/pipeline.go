package pgdb

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// rollbackTimeout bounds the ROLLBACK that ends a failed pipelined
// transaction; past it the connection is dropped instead of reused.
const rollbackTimeout = 5 * time.Second

// Pipelined runs a transaction in two round trips to PostgreSQL, where
// pgx.BeginFunc takes one for BEGIN, one per statement or batch and one for
// COMMIT. BEGIN goes out with the statements queued in first; then reads
// their results from br, in order, and queues the rest of the transaction
// in last, which goes out with COMMIT. Nothing is committed if then or any
// statement fails.
//
// Each round trip costs both processes a write, a wake-up and a read; on
// the two shared cores the benchmarks run on, BEGIN and COMMIT on their own
// were a fifth of the tickets service's CPU when creating tickets.
func Pipelined(ctx context.Context, pool *pgxpool.Pool, first *pgx.Batch,
	then func(br pgx.BatchResults, last *pgx.Batch) error,
) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire connection: %w", err)
	}
	// A connection released inside a transaction is closed by the pool,
	// not reused: end a failed one here so that it can be.
	defer func() {
		if err != nil && !conn.Conn().IsClosed() && conn.Conn().PgConn().TxStatus() != 'I' {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			_, _ = conn.Exec(rctx, "ROLLBACK")
			cancel()
		}
		conn.Release()
	}()

	begin := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, 1+first.Len())}
	begin.Queue("BEGIN")
	begin.QueuedQueries = append(begin.QueuedQueries, first.QueuedQueries...)
	br := conn.SendBatch(ctx, begin)
	if _, err := br.Exec(); err != nil {
		br.Close() // the transaction is ended, or the connection dropped, on the way out
		return fmt.Errorf("begin: %w", err)
	}
	last := &pgx.Batch{}
	if err := then(br, last); err != nil {
		br.Close() // as above; then's error (a domain error, say) is the one to return
		return err
	}
	if err := br.Close(); err != nil {
		return err
	}

	last.Queue("COMMIT")
	br = conn.SendBatch(ctx, last)
	for range last.Len() - 1 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	tag, err := br.Exec()
	if err != nil {
		br.Close()
		return fmt.Errorf("commit: %w", err)
	}
	if err := br.Close(); err != nil {
		return err
	}
	if tag.String() == "ROLLBACK" { // COMMIT of a transaction that had failed
		return pgx.ErrTxCommitRollback
	}
	return nil
}
