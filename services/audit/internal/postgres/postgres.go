// Package postgres keeps the audit log in PostgreSQL (schema "audit"): one
// row per event, keyed by the event id, the summaries of sealed hours, and
// one row per dead letter. It is the store of local runs, which need no
// server beyond the PostgreSQL the other services use; production keeps
// the log in MongoDB (package mongostore). Both answer every query alike.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the audit schema's migrations.
var Migrations = pgdb.Migrations{FS: migrationFiles, Dir: "migrations", Table: "audit_schema_migrations"}

// Store implements audit.Store on PostgreSQL.
type Store struct {
	pool *pgxpool.Pool
}

// New returns a Store on pool, whose database has the audit schema.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Vacuum vacuums and analyses the entries, as autovacuum would in a while:
// after a bulk load (`audit seed`), so that the queries find the new pages
// all-visible and the planner knows the table.
func (s *Store) Vacuum(ctx context.Context) error {
	if _, err := s.pool.Exec(ctx, `VACUUM (ANALYZE) audit.entries`); err != nil {
		return fmt.Errorf("vacuum: %w", err)
	}
	return nil
}

// columns are the columns of audit.entries that SaveBatch writes, in the
// order of row.values.
var columns = []string{
	"event_id", "type", "source", "subject", "time", "actor_id", "actor_role", "trace_id", "action", "request_id",
	"call", "method", "route", "status_code", "status_class", "process_time", "latency", "weight", "data", "received_at",
}

// rows holds a batch of entries column by column, for one INSERT of
// unnest()ed arrays.
type rows struct {
	eventID, typ, source, subject       []string
	at, receivedAt                      []time.Time
	actorID, actorRole, traceID, action []*string
	requestID                           []*int64
	call                                []bool
	method, route, statusClass          []*string
	statusCode                          []*int32
	processTime, latency                []*float64
	weight                              []int64
	data                                []string
}

func (r *rows) add(e audit.Entry) {
	r.eventID = append(r.eventID, e.EventID)
	r.typ = append(r.typ, e.Type)
	r.source = append(r.source, e.Source)
	r.subject = append(r.subject, e.Subject)
	r.at = append(r.at, e.Time.UTC())
	r.receivedAt = append(r.receivedAt, e.ReceivedAt.UTC())
	r.actorID = append(r.actorID, nullable(e.ActorID))
	r.actorRole = append(r.actorRole, nullable(e.ActorRole))
	r.traceID = append(r.traceID, nullable(e.TraceID))
	r.action = append(r.action, nullable(e.Action))
	var requestID *int64
	if e.RequestID != 0 {
		requestID = &e.RequestID
	}
	r.requestID = append(r.requestID, requestID)
	r.weight = append(r.weight, e.Weight())
	r.data = append(r.data, string(e.Data))
	c := e.Call
	if c == nil {
		r.call = append(r.call, false)
		r.method, r.route, r.statusClass = append(r.method, nil), append(r.route, nil), append(r.statusClass, nil)
		r.statusCode, r.processTime, r.latency = append(r.statusCode, nil), append(r.processTime, nil), append(r.latency, nil)
		return
	}
	status := int32(c.StatusCode)
	r.call = append(r.call, true)
	r.method, r.route = append(r.method, nullable(c.Method)), append(r.route, nullable(c.Route))
	r.statusCode, r.statusClass = append(r.statusCode, &status), append(r.statusClass, nullable(c.StatusClass()))
	if l, ok := c.Latency(); ok {
		pt := c.ProcessTime
		r.processTime, r.latency = append(r.processTime, &pt), append(r.latency, &l)
	} else {
		r.processTime, r.latency = append(r.processTime, nil), append(r.latency, nil)
	}
}

func (r *rows) values() []any {
	return []any{
		r.eventID, r.typ, r.source, r.subject, r.at, r.actorID, r.actorRole, r.traceID, r.action, r.requestID,
		r.call, r.method, r.route, r.statusCode, r.statusClass, r.processTime, r.latency, r.weight, r.data, r.receivedAt,
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// insertEntries inserts the rows of unnest()ed arrays, one per column,
// skipping event ids that are stored already, and returns the ids it
// stored. In the same statement it moves on the generation of the minute
// and the hour of each stored entry older than the last parameter (see
// audit.Rollup): a late entry and the touch of its summaries commit
// together.
var insertEntries = func() string {
	types := []string{
		"text", "text", "text", "text", "timestamptz", "text", "text", "text", "text", "bigint",
		"boolean", "text", "text", "integer", "text", "double precision", "double precision", "bigint", "text", "timestamptz",
	}
	args := make([]string, len(types))
	for i, t := range types {
		args[i] = fmt.Sprintf("$%d::%s[]", i+1, t)
	}
	sel := make([]string, len(columns))
	copy(sel, columns)
	sel[18] = "data::json" // sent as text: json keeps it byte for byte
	return `WITH stored AS (
			INSERT INTO audit.entries (` + strings.Join(columns, ", ") + `)
			SELECT ` + strings.Join(sel, ", ") + ` FROM unnest(` + strings.Join(args, ", ") + `) AS u(` + strings.Join(columns, ", ") + `)
			ON CONFLICT (event_id) DO NOTHING
			RETURNING event_id, time
		), touched AS (
			INSERT INTO audit.rollups (span, start, gen)
			SELECT DISTINCT s.span, to_timestamp(floor(extract(epoch FROM stored.time) / s.span) * s.span), 1
			FROM stored CROSS JOIN (VALUES (60), (3600)) AS s(span)
			WHERE stored.time < $` + fmt.Sprint(len(types)+1) + `
			ORDER BY 1, 2 -- one order of locks for every writer: no deadlock
			ON CONFLICT (span, start) DO UPDATE SET gen = audit.rollups.gen + 1
		)
		SELECT event_id FROM stored`
}()

// SaveBatch inserts the entries with one statement: an event id that is
// stored already is success, reported as not new. When the statement fails
// on the data of some row (a string PostgreSQL cannot hold, say), the rows
// are inserted one by one instead, so that only the rows at fault fail,
// for good, without holding back the others.
func (s *Store) SaveBatch(ctx context.Context, entries []audit.Entry, late time.Time) ([]audit.Saved, error) {
	if len(entries) == 0 {
		return nil, nil
	}
	var r rows
	for _, e := range entries {
		r.add(e)
	}
	stored, err := s.insert(ctx, r, late)
	if isDataError(err) && len(entries) > 1 {
		return s.saveOneByOne(ctx, entries, late)
	}
	if err != nil {
		if isDataError(err) {
			return []audit.Saved{{Err: fmt.Errorf("%w: insert event %s: %w", audit.ErrInvalidEvent, entries[0].EventID, err)}}, nil
		}
		return nil, fmt.Errorf("insert %d events: %w", len(entries), unavailable(err))
	}
	out := make([]audit.Saved, len(entries))
	for i, e := range entries {
		// An id twice in one batch is new once, at its first place.
		if stored[e.EventID] {
			out[i].New = true
			delete(stored, e.EventID)
		}
	}
	return out, nil
}

// insert runs insertEntries and returns the set of ids it stored.
func (s *Store) insert(ctx context.Context, r rows, late time.Time) (map[string]bool, error) {
	res, err := s.pool.Query(ctx, insertEntries, append(r.values(), late.UTC())...)
	if err != nil {
		return nil, err
	}
	ids, err := pgx.CollectRows(res, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	stored := make(map[string]bool, len(ids))
	for _, id := range ids {
		stored[id] = true
	}
	return stored, nil
}

func (s *Store) saveOneByOne(ctx context.Context, entries []audit.Entry, late time.Time) ([]audit.Saved, error) {
	out := make([]audit.Saved, len(entries))
	for i := range entries {
		saved, err := s.SaveBatch(ctx, entries[i:i+1], late)
		if err != nil {
			return nil, err
		}
		out[i] = saved[0]
	}
	return out, nil
}

// isDataError reports whether PostgreSQL refused a statement for its data
// (class 22, data exception, or 23, integrity constraint violation), which
// no retry changes.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || strings.HasPrefix(pgErr.Code, "23"))
}

// SaveDeadLetter inserts d. The message is kept as text, with bytes that
// are not UTF-8 (and NUL, which PostgreSQL text cannot hold) replaced.
func (s *Store) SaveDeadLetter(ctx context.Context, d audit.DeadLetter) error {
	const q = `INSERT INTO audit.dead_letters (subject, reason, data, event_id, received_at) VALUES ($1, $2, $3, $4, $5)`
	clean := func(s string) string { return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD") }
	_, err := s.pool.Exec(ctx, q, clean(d.Subject), clean(d.Reason), clean(string(d.Data)), nullable(clean(d.EventID)), d.ReceivedAt.UTC())
	if err != nil {
		return fmt.Errorf("insert dead letter from %s: %w", d.Subject, unavailable(err))
	}
	return nil
}

// DeleteBefore deletes the entries of events older than t and returns how
// many it deleted, with the rollups of the stretches they filled: those
// wholly before t go, and the minute and hour t falls in are touched. Only
// the retention purge calls it: no query or route of the service changes
// or removes an entry.
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	var n int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM audit.entries WHERE time < $1`, t.UTC())
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM audit.rollups WHERE start + span * interval '1 second' <= $1`, t.UTC()); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, touchStretches, []time.Time{t.UTC()})
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("delete entries before %s: %w", t.Format(time.RFC3339), unavailable(err))
	}
	return n, nil
}

// NthOldest returns the event time of the n-th oldest entry (1 is the
// oldest), and false when there are fewer than n: a read of n keys of the
// time index.
func (s *Store) NthOldest(ctx context.Context, n int) (time.Time, bool, error) {
	var t time.Time
	err := s.pool.QueryRow(ctx, `SELECT time FROM audit.entries ORDER BY time OFFSET $1 LIMIT 1`, max(n, 1)-1).Scan(&t)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return time.Time{}, false, nil
	case err != nil:
		return time.Time{}, false, fmt.Errorf("find the %d-th oldest entry: %w", n, unavailable(err))
	}
	return t, true, nil
}

// unavailable marks err as fault.Unavailable when the database could not
// be reached or did not answer in time, so that clients get 503 rather than
// 500.
func unavailable(err error) error {
	timeout := &fault.Error{Kind: fault.Unavailable, Code: "log_query_timeout",
		Detail: "The log database did not answer in time; narrow the query or try again later", Err: err}
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == "57014": // query_canceled: the deadline, or statement_timeout
		return timeout
	case errors.As(err, &pgErr):
		return err // the server answered: a bug, not an outage
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), pgconn.Timeout(err):
		return timeout
	}
	return &fault.Error{Kind: fault.Unavailable, Code: "database_unavailable",
		Detail: "The log database is unavailable; try again later", Err: err}
}
