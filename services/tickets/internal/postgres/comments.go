package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

type commentRow struct {
	ID        int64     `db:"id"`
	TicketID  int64     `db:"request_id"`
	AuthorID  int64     `db:"author_id"`
	Body      string    `db:"body"`
	Internal  bool      `db:"internal"`
	CreatedAt time.Time `db:"created_at"`
}

func toComment(r commentRow) ticket.Comment {
	return ticket.Comment{ID: r.ID, TicketID: r.TicketID, AuthorID: r.AuthorID, Body: r.Body, Internal: r.Internal, CreatedAt: r.CreatedAt.UTC()}
}

// AddComment implements ticket.Store.
func (s *Store) AddComment(ctx context.Context, c ticket.Comment, firstResponse bool, idem *ticket.Idempotency, evs func(ticket.Comment) ([]events.Event, error)) (ticket.Comment, error) {
	const insert = `INSERT INTO tickets.comments (request_id, author_id, body, internal) VALUES ($1, $2, $3, $4)
RETURNING ` + commentColumns
	// A first response by its due time meets the clock (ticket.settleClocks
	// in SQL); a late one leaves it pending for the clock job to mark.
	const respond = `
UPDATE tickets.requests SET first_response_at = now(),
    first_response_sla = CASE WHEN first_response_sla = 'pending' AND now() <= first_response_due_at
                              THEN 'met' ELSE first_response_sla END
WHERE id = $1 AND first_response_at IS NULL`
	const get = `SELECT ` + commentColumns + ` FROM tickets.comments WHERE id = $1`

	var saved ticket.Comment
	id, replayed, err := s.insertOnce(ctx, idem, func(first *pgx.Batch) {
		first.Queue(insert, c.TicketID, c.AuthorID, c.Body, c.Internal)
		if firstResponse {
			first.Queue(respond, c.TicketID)
		}
	}, func(br pgx.BatchResults, last *pgx.Batch) (int64, error) {
		rows, err := br.Query()
		if err != nil {
			return 0, err
		}
		row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[commentRow])
		if err != nil {
			return 0, err
		}
		saved = toComment(row)
		if firstResponse {
			if _, err := br.Exec(); err != nil {
				return 0, err
			}
		}
		out, err := evs(saved)
		if err != nil {
			return 0, err
		}
		return saved.ID, Outbox.Queue(last, out...)
	})
	if err == nil && replayed {
		saved, err = queryComment(ctx, s.pool, get, id)
	}
	return saved, fault.Wrap(err, "add comment to ticket %d", c.TicketID)
}

const commentColumns = `id, request_id, author_id, body, internal, created_at`

func queryComment(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}, sql string, args ...any) (ticket.Comment, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return ticket.Comment{}, err
	}
	row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[commentRow])
	if err != nil {
		return ticket.Comment{}, err
	}
	return toComment(row), nil
}

type commentViewRow struct {
	commentRow
	Email      *string `db:"email"`
	Role       *string `db:"role"`
	FirstName  *string `db:"first_name"`
	LastName   *string `db:"last_name"`
	FatherName *string `db:"father_name"`
}

// Comments implements ticket.Store.
func (s *Store) Comments(ctx context.Context, ticketID int64, internal bool) ([]ticket.CommentView, error) {
	const q = `
SELECT c.id, c.request_id, c.author_id, c.body, c.internal, c.created_at,
       u.email, u.role, u.first_name, u.last_name, u.father_name
FROM tickets.comments c LEFT JOIN tickets.users u ON u.id = c.author_id
WHERE c.request_id = $1 AND (NOT c.internal OR $2)
ORDER BY c.id`
	rows, err := s.pool.Query(ctx, q, ticketID, internal)
	if err != nil {
		return nil, fmt.Errorf("comments of %d: %w", ticketID, err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByName[commentViewRow])
	if err != nil {
		return nil, fmt.Errorf("comments of %d: %w", ticketID, err)
	}
	out := make([]ticket.CommentView, len(list))
	for i, r := range list {
		author := ticket.User{ID: r.AuthorID, FirstName: r.FirstName, LastName: r.LastName, FatherName: r.FatherName}
		if r.Email != nil {
			author.Email = *r.Email
		}
		if r.Role != nil {
			author.Role = access.Role(*r.Role)
		}
		out[i] = ticket.CommentView{Comment: toComment(r.commentRow), Author: author}
	}
	return out, nil
}
