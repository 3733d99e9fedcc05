package postgres

import (
	"context"
	"fmt"
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
	if len(conds) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(conds, " AND "), args
}

// List implements ticket.Store. Tickets come newest first, ties broken by
// id, which the (created_at, id) indexes serve; a cursor continues after a
// position without OFFSET. A page reached by cursor is not counted (total
// -1): counting every matching row is the cost deep paging avoids; a page
// by number counts at most ticket.CountLimit+1 rows.
func (s *Store) List(ctx context.Context, f ticket.Filter, p ticket.Page) ([]ticket.View, int64, *ticket.Cursor, error) {
	cond, args := where(f)
	total := int64(-1)
	if p.After == nil {
		count := fmt.Sprintf(`SELECT count(*) FROM (SELECT FROM tickets.requests r%s LIMIT %d) AS matching`, cond, ticket.CountLimit+1)
		if err := s.pool.QueryRow(ctx, count, args...).Scan(&total); err != nil {
			return nil, 0, nil, fmt.Errorf("count tickets: %w", err)
		}
	}

	q := viewSelect + cond
	offset := (p.Number - 1) * p.Size
	if p.After != nil {
		args = append(args, p.After.CreatedAt, p.After.ID)
		keyset := fmt.Sprintf("(r.created_at, r.id) < ($%d, $%d)", len(args)-1, len(args))
		if cond == "" {
			q += " WHERE " + keyset
		} else {
			q += " AND " + keyset
		}
		offset = 0
	}
	args = append(args, p.Size+1, offset)
	q += fmt.Sprintf(" ORDER BY r.created_at DESC, r.id DESC LIMIT $%d OFFSET $%d", len(args)-1, len(args))

	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("list tickets: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[viewRow])
	if err != nil {
		return nil, 0, nil, fmt.Errorf("list tickets: %w", err)
	}
	var next *ticket.Cursor
	if len(list) > p.Size {
		list = list[:p.Size]
		last := list[len(list)-1]
		next = &ticket.Cursor{CreatedAt: last.CreatedAt.UTC(), ID: last.ID}
	}
	views := make([]ticket.View, len(list))
	for i, r := range list {
		views[i] = toView(r)
	}
	return views, total, next, nil
}
