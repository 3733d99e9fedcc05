package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// where builds the conditions of a query and their arguments.
type where struct {
	conds []string
	args  []any
}

func (w *where) add(cond string, args ...any) {
	for _, a := range args {
		w.args = append(w.args, a)
		cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1)
	}
	w.conds = append(w.conds, cond)
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}

// whereOf is the condition of q, without its page. Each equality leads an
// index that continues with the log's order (see the migrations).
func whereOf(q audit.Query) *where {
	w := &where{}
	switch q.Log {
	case audit.CallEntries:
		w.add("call")
	case audit.ActionEntries:
		w.add("action IS NOT NULL")
	case audit.NotCallEntries:
		w.add("NOT call")
	}
	if q.Type != "" {
		w.add("type = ?", q.Type)
	}
	if q.Subject != "" {
		w.add("subject = ?", q.Subject)
	}
	if q.ActorID != "" {
		w.add("actor_id = ?", q.ActorID)
	}
	if q.Action != "" {
		w.add("action = ?", q.Action)
	}
	if q.RequestID != 0 {
		w.add("request_id = ?", q.RequestID)
	}
	if q.Method != "" {
		w.add("method = ?", q.Method)
	}
	if q.StatusCode != 0 {
		w.add("status_code = ?", q.StatusCode)
	}
	if !q.Since.IsZero() {
		w.add("time >= ?", q.Since.UTC())
	}
	if !q.Until.IsZero() {
		w.add("time < ?", q.Until.UTC())
	}
	return w
}

// entryRow is a row of audit.entries as List reads it.
type entryRow struct {
	EventID    string    `db:"event_id"`
	Type       string    `db:"type"`
	Source     string    `db:"source"`
	Subject    string    `db:"subject"`
	Time       time.Time `db:"time"`
	ActorID    *string   `db:"actor_id"`
	ActorRole  *string   `db:"actor_role"`
	TraceID    *string   `db:"trace_id"`
	Action     *string   `db:"action"`
	RequestID  *int64    `db:"request_id"`
	Data       string    `db:"data"`
	ReceivedAt time.Time `db:"received_at"`
}

const entryColumns = `event_id, type, source, subject, time, actor_id, actor_role, trace_id, action, request_id, data::text AS data, received_at`

func (r entryRow) entry() audit.Entry {
	e := audit.Entry{
		EventID:    r.EventID,
		Type:       r.Type,
		Source:     r.Source,
		Subject:    r.Subject,
		Time:       r.Time.UTC(),
		ActorID:    deref(r.ActorID),
		ActorRole:  deref(r.ActorRole),
		TraceID:    deref(r.TraceID),
		Action:     deref(r.Action),
		Data:       json.RawMessage(r.Data),
		ReceivedAt: r.ReceivedAt.UTC(),
	}
	if r.RequestID != nil {
		e.RequestID = *r.RequestID
	}
	// Stored calls were decoded once already; one that no longer decodes
	// is listed without its call rather than failing the page.
	if c, err := audit.CallOf(r.Type, e.Data); err == nil {
		e.Call = c
	}
	return e
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// List returns one page of the entries q selects, newest first, and counts
// them up to q.CountUpTo. The page is an index range read in the log's
// order, and the count reads at most CountUpTo index entries. Both run
// under ctx: when it ends, the driver cancels the statement on the server.
func (s *Store) List(ctx context.Context, q audit.Query) (audit.Listing, error) {
	var l audit.Listing
	if q.CountUpTo > 0 {
		w := whereOf(q)
		w.args = append(w.args, q.CountUpTo)
		sql := `SELECT count(*) FROM (SELECT 1 FROM audit.entries` + w.String() + ` LIMIT $` + strconv.Itoa(len(w.args)) + `) AS page`
		if err := s.pool.QueryRow(ctx, sql, w.args...).Scan(&l.Total); err != nil {
			return audit.Listing{}, fmt.Errorf("count entries: %w", unavailable(err))
		}
		l.Counted = true
	}
	w := whereOf(q)
	if q.After != nil {
		w.add("(time, event_id) < (?, ?)", q.After.Time.UTC(), q.After.EventID)
	}
	page := ` ORDER BY time DESC, event_id DESC`
	if q.Limit > 0 {
		w.args = append(w.args, q.Limit)
		page += ` LIMIT $` + strconv.Itoa(len(w.args))
	}
	sql := `SELECT ` + entryColumns + ` FROM audit.entries` + w.String() + page
	if q.Offset > 0 {
		// The entries skipped are read from the index alone (their ids),
		// and only the page's rows from the table.
		w.args = append(w.args, q.Offset)
		sql = `SELECT ` + entryColumns + ` FROM audit.entries JOIN (
			SELECT event_id FROM audit.entries` + w.String() + page + ` OFFSET $` + strconv.Itoa(len(w.args)) + `
		) AS page USING (event_id) ORDER BY time DESC, event_id DESC`
	}
	rows, err := s.pool.Query(ctx, sql, w.args...)
	if err != nil {
		return audit.Listing{}, fmt.Errorf("find entries: %w", unavailable(err))
	}
	found, err := pgx.CollectRows(rows, pgx.RowToStructByName[entryRow])
	if err != nil {
		return audit.Listing{}, fmt.Errorf("read entries: %w", unavailable(err))
	}
	l.Entries = make([]audit.Entry, len(found))
	for i, r := range found {
		l.Entries[i] = r.entry()
	}
	return l, nil
}

// Summarize summarises the entries with from <= time < to: the database
// groups them by what a summary tells apart, reading only the time index
// (which carries those columns), and one row per group leaves it.
func (s *Store) Summarize(ctx context.Context, from, to time.Time) (audit.Summary, error) {
	const q = `
		SELECT call, coalesce(status_class, ''), coalesce(action, ''), latency, sum(weight)::bigint
		FROM audit.entries
		WHERE time >= $1 AND time < $2
		GROUP BY 1, 2, 3, 4`
	rows, err := s.pool.Query(ctx, q, from.UTC(), to.UTC())
	if err != nil {
		return audit.Summary{}, fmt.Errorf("summarise entries: %w", unavailable(err))
	}
	defer rows.Close()
	sum := audit.NewSummary()
	for rows.Next() {
		var (
			call          bool
			class, action string
			latency       *float64
			n             int64
		)
		if err := rows.Scan(&call, &class, &action, &latency, &n); err != nil {
			return audit.Summary{}, fmt.Errorf("read the summary of entries: %w", err)
		}
		sum.Total += n
		if action != "" {
			sum.Actions += n
			sum.ByAction[action] += n
		}
		if call {
			sum.Calls += n
			sum.ByStatusClass[class] += n
			if latency != nil {
				sum.Latency[*latency] += n
			}
		}
	}
	if err := rows.Err(); err != nil {
		return audit.Summary{}, fmt.Errorf("read the summary of entries: %w", unavailable(err))
	}
	return sum, nil
}

// Rollups returns the stored rollups of span that start in [from, to).
func (s *Store) Rollups(ctx context.Context, span time.Duration, from, to time.Time) ([]audit.Rollup, error) {
	const q = `
		SELECT start, gen, summarised, sum_gen, total, calls, actions,
		       coalesce(by_status_class, '{}'), coalesce(by_action, '{}'), coalesce(latency_s, '{}'), coalesce(latency_n, '{}')
		FROM audit.rollups WHERE span = $1 AND start >= $2 AND start < $3`
	rows, err := s.pool.Query(ctx, q, int(span/time.Second), from.UTC(), to.UTC())
	if err != nil {
		return nil, fmt.Errorf("find rollups: %w", unavailable(err))
	}
	defer rows.Close()
	var out []audit.Rollup
	for rows.Next() {
		r := audit.Rollup{Span: span}
		var (
			summarised     bool
			sum            = audit.NewSummary()
			byClass, byAct []byte
			seconds        []float64
			counts         []int64
		)
		if err := rows.Scan(&r.Start, &r.Gen, &summarised, &r.SumGen, &sum.Total, &sum.Calls, &sum.Actions,
			&byClass, &byAct, &seconds, &counts); err != nil {
			return nil, fmt.Errorf("read rollups: %w", err)
		}
		r.Start = r.Start.UTC()
		if summarised {
			if err := json.Unmarshal(byClass, &sum.ByStatusClass); err != nil {
				return nil, fmt.Errorf("rollup of %s: %w", r.Start.Format(time.RFC3339), err)
			}
			if err := json.Unmarshal(byAct, &sum.ByAction); err != nil {
				return nil, fmt.Errorf("rollup of %s: %w", r.Start.Format(time.RFC3339), err)
			}
			for i, v := range seconds {
				if i < len(counts) {
					sum.Latency[v] += counts[i]
				}
			}
			r.Summary = &sum
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read rollups: %w", unavailable(err))
	}
	return out, nil
}

// SaveRollup stores r's summary on the condition that the generation of
// its stretch is still r.Gen, in the same statement: a generation that
// moved on stores nothing.
func (s *Store) SaveRollup(ctx context.Context, r audit.Rollup) error {
	if r.Summary == nil {
		return nil
	}
	sum := r.Summary
	byClass, err := json.Marshal(sum.ByStatusClass)
	if err != nil {
		return err
	}
	byAction, err := json.Marshal(sum.ByAction)
	if err != nil {
		return err
	}
	seconds := make([]float64, 0, len(sum.Latency))
	counts := make([]int64, 0, len(sum.Latency))
	for v, n := range sum.Latency {
		seconds, counts = append(seconds, v), append(counts, n)
	}
	const q = `
		INSERT INTO audit.rollups (span, start, gen, summarised, sum_gen, total, calls, actions, by_status_class, by_action, latency_s, latency_n)
		VALUES ($1, $2, $3, true, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (span, start) DO UPDATE SET summarised = true, sum_gen = EXCLUDED.sum_gen,
			total = EXCLUDED.total, calls = EXCLUDED.calls, actions = EXCLUDED.actions,
			by_status_class = EXCLUDED.by_status_class, by_action = EXCLUDED.by_action,
			latency_s = EXCLUDED.latency_s, latency_n = EXCLUDED.latency_n
		WHERE audit.rollups.gen = EXCLUDED.gen`
	if _, err := s.pool.Exec(ctx, q, int(r.Span/time.Second), r.Start.UTC(), r.Gen,
		sum.Total, sum.Calls, sum.Actions, byClass, byAction, seconds, counts); err != nil {
		return fmt.Errorf("save rollup: %w", unavailable(err))
	}
	return nil
}

// touchStretches moves on the generation of the minute and the hour of
// each time in $1.
const touchStretches = `
	INSERT INTO audit.rollups (span, start, gen)
	SELECT DISTINCT s.span, to_timestamp(floor(extract(epoch FROM t) / s.span) * s.span), 1
	FROM unnest($1::timestamptz[]) AS t CROSS JOIN (VALUES (60), (3600)) AS s(span)
	ORDER BY 1, 2 -- one order of locks for every writer: no deadlock
	ON CONFLICT (span, start) DO UPDATE SET gen = audit.rollups.gen + 1`

// Touch moves on the generation of the minute and the hour of each time.
func (s *Store) Touch(ctx context.Context, times []time.Time) error {
	if len(times) == 0 {
		return nil
	}
	utc := make([]time.Time, len(times))
	for i, t := range times {
		utc[i] = t.UTC()
	}
	if _, err := s.pool.Exec(ctx, touchStretches, utc); err != nil {
		return fmt.Errorf("touch rollups: %w", unavailable(err))
	}
	return nil
}
