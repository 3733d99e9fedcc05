package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
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
func (s *Store) AddComment(ctx context.Context, c ticket.Comment, idem *ticket.Idempotency, evs func(ticket.Comment) ([]events.Event, error)) (ticket.Comment, bool, error) {
	const q = `INSERT INTO tickets.comments (request_id, author_id, body, internal) VALUES ($1, $2, $3, $4)
RETURNING id, request_id, author_id, body, internal, created_at`
	var saved ticket.Comment
	replayed, err := s.idempotent(ctx, idem, func(tx pgx.Tx) (int64, error) {
		rows, err := tx.Query(ctx, q, c.TicketID, c.AuthorID, c.Body, c.Internal)
		if err != nil {
			return 0, err
		}
		row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[commentRow])
		if err != nil {
			return 0, err
		}
		saved = toComment(row)
		out, err := evs(saved)
		if err != nil {
			return 0, err
		}
		return saved.ID, Outbox.Add(ctx, tx, out...)
	}, func(id int64) error {
		rows, err := s.pool.Query(ctx, `SELECT id, request_id, author_id, body, internal, created_at FROM tickets.comments WHERE id = $1`, id)
		if err != nil {
			return err
		}
		row, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[commentRow])
		saved = toComment(row)
		return err
	})
	return saved, replayed, wrap(err, "add comment to ticket %d", c.TicketID)
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
