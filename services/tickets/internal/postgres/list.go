package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// where renders f as a WHERE clause over the alias r, with its arguments.
func where(f ticket.Filter) (string, []any) {
	var conds []string
	var args []any
	add := func(cond string, arg any) {
		args = append(args, arg)
		conds = append(conds, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Status != nil {
		add("r.status = ?", string(*f.Status))
	}
	if f.OwnerID != nil {
		add("r.owner_id = ?", *f.OwnerID)
	}
	if f.StaffID != nil {
		add("r.staff_id = ?", *f.StaffID)
	}
	if f.Unassigned {
		conds = append(conds, "r.staff_id IS NULL")
	}
	if f.CreatedGTE != nil {
		add("r.created_at >= ?", *f.CreatedGTE)
	}
	if f.CreatedLT != nil {
		add("r.created_at < ?", *f.CreatedLT)
	}
	if f.SLA != "" {
		conds = append(conds, slaConditions[f.SLA])
	}
	if f.Query != "" {
		add(searchDocument(f)+" @@ websearch_to_tsquery(tickets.search_language(), ?)", f.Query)
	}
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// breachedSQL and atRiskSQL select tickets by their SLA clocks as
// ticket.Ticket.SLA shows them: breached, marked or with a due time passed
// unmet; at risk, a running clock with under a quarter of its target
// (from creation to due) left.
const (
	breachedSQL = `(r.first_response_sla = 'breached' OR r.resolution_sla = 'breached'
    OR (r.first_response_sla = 'pending' AND r.first_response_due_at <= now())
    OR (r.resolution_sla = 'pending' AND r.resolution_due_at <= now()))`
	atRiskSQL = `((r.first_response_sla = 'pending' AND r.first_response_due_at - now() < (r.first_response_due_at - r.created_at) / 4)
    OR (r.resolution_sla = 'pending' AND r.resolution_due_at - now() < (r.resolution_due_at - r.created_at) / 4))`
)

// slaConditions are the conditions of the sla filters.
var slaConditions = map[ticket.SLAFilter]string{
	ticket.SLABreached: breachedSQL,
	ticket.SLAAtRisk:   "NOT " + breachedSQL + " AND " + atRiskSQL,
	ticket.SLAOK:       "NOT " + breachedSQL + " AND NOT " + atRiskSQL,
}

// searchDocument is the text-search vector a search of f reads: the one
// its GIN index is built on (migration 5).
func searchDocument(f ticket.Filter) string {
	if f.Internal {
		return "(r.search_text || r.search_public || r.search_internal)"
	}
	return "(r.search_text || r.search_public)"
}

// List implements ticket.Store. Tickets come newest first, ties broken by
// id, which the (created_at, id) indexes serve; a cursor continues after a
// position without OFFSET. A search (f.Query) comes by relevance first
// (ts_rank over its GIN-indexed document, with the weights of title, text
// and comments; ts_rank_cd cost twice as much at a million tickets), its
// cursor holding the rank. A page reached by cursor is not counted (total
// -1): counting every matching row is the cost deep paging avoids; a page
// by number counts at most ticket.CountLimit+1 rows, a search's with the
// page itself (ranking reads every match anyway).
func (s *Store) List(ctx context.Context, f ticket.Filter, p ticket.Page) ([]ticket.View, int64, *ticket.Cursor, error) {
	cond, whereArgs := where(f)
	args := slices.Clone(whereArgs)
	search := f.Query != ""
	total := int64(-1)
	count := fmt.Sprintf(`SELECT count(*) FROM (SELECT FROM tickets.requests r%s LIMIT %d) AS matching`, cond, ticket.CountLimit+1)
	countInto := func(row pgx.Row) error {
		if err := row.Scan(&total); err != nil {
			return fmt.Errorf("count tickets: %w", err)
		}
		return nil
	}
	// A page by number outside a search is counted by a statement of its
	// own, sent with the page's: one round trip for both.
	batch := &pgx.Batch{}
	if p.After == nil && !search {
		batch.Queue(count, whereArgs...).QueryRow(countInto)
	}

	// The rank is 0 outside a search; in one, where's last argument is the
	// query.
	rank, order, counted := "0::real", "r.created_at DESC, r.id DESC", "-1::bigint"
	if search {
		rank = fmt.Sprintf("ts_rank(%s, websearch_to_tsquery(tickets.search_language(), $%d))", searchDocument(f), len(args))
		order = "rank DESC, " + order
		if p.After == nil {
			counted, total = "count(*) OVER ()", 0
		}
	}
	q := viewColumns + ", " + rank + " AS rank, " + counted + " AS total FROM tickets.requests r" + viewJoins + cond
	offset := (p.Number - 1) * p.Size
	if p.After != nil {
		keyset := fmt.Sprintf("(r.created_at, r.id) < ($%d, $%d)", len(args)+1, len(args)+2)
		args = append(args, p.After.CreatedAt, p.After.ID)
		if f.Query != "" {
			after := float32(0)
			if p.After.Rank != nil {
				after = *p.After.Rank
			}
			args = append(args, after)
			keyset = fmt.Sprintf("(%s, r.created_at, r.id) < ($%d, $%d, $%d)", rank, len(args), len(args)-2, len(args)-1)
		}
		if cond == "" {
			q += " WHERE " + keyset
		} else {
			q += " AND " + keyset
		}
		offset = 0
	}
	args = append(args, p.Size+1, offset)
	q += fmt.Sprintf(" ORDER BY %s LIMIT $%d OFFSET $%d", order, len(args)-1, len(args))

	var list []rankedRow
	batch.Queue(q, args...).Query(func(rows pgx.Rows) (err error) {
		if list, err = pgx.CollectRows(rows, scanRanked); err != nil {
			return fmt.Errorf("list tickets: %w", err)
		}
		return nil
	})
	if err := s.pool.SendBatch(ctx, batch).Close(); err != nil {
		return nil, 0, nil, err
	}
	switch {
	case search && p.After == nil && len(list) > 0:
		total = min(list[0].Total, ticket.CountLimit+1)
	case search && p.After == nil && p.Number > 1:
		// A page past the matches has no row to carry their count.
		if err := countInto(s.pool.QueryRow(ctx, count, whereArgs...)); err != nil {
			return nil, 0, nil, err
		}
	}
	var next *ticket.Cursor
	if len(list) > p.Size {
		list = list[:p.Size]
		last := list[len(list)-1]
		next = &ticket.Cursor{CreatedAt: last.CreatedAt, ID: last.ID}
		if f.Query != "" {
			next.Rank = &last.Rank
		}
	}
	views := make([]ticket.View, len(list))
	for i, r := range list {
		views[i] = toView(r.viewRow)
	}
	return views, total, next, nil
}

// rankedRow is a list's row with its relevance (0 outside a search) and,
// in a search's page by number, the count of every match (else -1).
type rankedRow struct {
	viewRow
	Rank  float32
	Total int64
}

// scanRanked reads a list's row: viewColumns, the rank and the total.
func scanRanked(row pgx.CollectableRow) (rankedRow, error) {
	var r rankedRow
	err := row.Scan(r.targets(&r.Rank, &r.Total)...)
	return r, err
}
