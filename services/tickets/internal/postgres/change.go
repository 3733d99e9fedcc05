package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

const lockTicket = `SELECT ` + ticketColumns + ` FROM tickets.requests WHERE id = $1 FOR UPDATE`

// lockBatch is the first round trip of a change to ticket id: locking it.
func lockBatch(id int64) *pgx.Batch {
	b := &pgx.Batch{}
	b.Queue(lockTicket, id)
	return b
}

// locked reads the ticket lockBatch locked.
func locked(br pgx.BatchResults) (ticket.Ticket, error) {
	rows, err := br.Query()
	if err != nil {
		return ticket.Ticket{}, err
	}
	t, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[ticket.Ticket])
	if errors.Is(err, pgx.ErrNoRows) {
		return ticket.Ticket{}, ticket.ErrNotFound
	}
	return t, err
}

const saveTicket = `
UPDATE tickets.requests SET staff_id = $2, title = $3, text = $4, status = $5, priority = $6, category = $7,
    staff_comment = $8, version = $9, updated_at = $10, first_response_at = $11, resolved_at = $12,
    first_response_due_at = $13, resolution_due_at = $14, first_response_sla = $15, resolution_sla = $16
WHERE id = $1`

// queueSave adds the update of t to b.
func queueSave(b *pgx.Batch, t ticket.Ticket) {
	b.Queue(saveTicket, t.ID, t.StaffID, t.Title, t.Text, string(t.Status), string(t.Priority), t.Category,
		t.StaffComment, t.Version, t.UpdatedAt, t.FirstResponseAt, t.ResolvedAt,
		t.FirstResponseDueAt, t.ResolutionDueAt, string(t.FirstResponseSLA), string(t.ResolutionSLA))
}

// Update implements ticket.Store: the ticket is locked with BEGIN, and
// saved with its events and COMMIT (two round trips).
func (s *Store) Update(ctx context.Context, id int64, change func(*ticket.Ticket) ([]events.Event, error)) (ticket.Ticket, error) {
	var saved ticket.Ticket
	err := Outbox.Pipelined(ctx, s.pool, lockBatch(id), func(br pgx.BatchResults, last *pgx.Batch) error {
		t, err := locked(br)
		if err != nil {
			return err
		}
		evs, err := change(&t)
		if err != nil {
			return err
		}
		queueSave(last, t)
		saved = t
		return Outbox.Queue(last, evs...)
	})
	return saved, fault.Wrap(err, "update ticket %d", id)
}

// Delete implements ticket.Store, in two round trips as Update.
func (s *Store) Delete(ctx context.Context, id int64, check func(ticket.Ticket) ([]events.Event, error)) error {
	err := Outbox.Pipelined(ctx, s.pool, lockBatch(id), func(br pgx.BatchResults, last *pgx.Batch) error {
		t, err := locked(br)
		if err != nil {
			return err
		}
		evs, err := check(t)
		if err != nil {
			return err
		}
		last.Queue(`DELETE FROM tickets.requests WHERE id = $1`, id)
		return Outbox.Queue(last, evs...)
	})
	return fault.Wrap(err, "delete ticket %d", id)
}

// UnassignStaff implements ticket.Store.
func (s *Store) UnassignStaff(ctx context.Context, staffID int64, evs func(before, after ticket.Ticket) ([]events.Event, error)) error {
	const q = `SELECT ` + ticketColumns + ` FROM tickets.requests
WHERE staff_id = $1 AND status IN ('new', 'in_progress') ORDER BY id FOR UPDATE`
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, staffID)
		if err != nil {
			return err
		}
		list, err := pgx.CollectRows(rows, pgx.RowToStructByName[ticket.Ticket])
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		b := &pgx.Batch{}
		for _, before := range list {
			after := before
			after.StaffID = nil
			if after.Status == ticket.StatusInProgress {
				after.Status = ticket.StatusNew
			}
			after.Version++
			after.UpdatedAt = now
			queueSave(b, after)
			out, err := evs(before, after)
			if err != nil {
				return err
			}
			if err := Outbox.Queue(b, out...); err != nil {
				return err
			}
		}
		return tx.SendBatch(ctx, b).Close()
	})
	return fault.Wrap(err, "unassign the tickets of staff %d", staffID)
}

// User implements ticket.Store.
func (s *Store) User(ctx context.Context, id int64) (ticket.User, error) {
	const q = `SELECT id, email, role, first_name, last_name, father_name, inn, phone, active FROM tickets.users WHERE id = $1`
	var u ticket.User
	var role string
	err := s.pool.QueryRow(ctx, q, id).Scan(&u.ID, &u.Email, &role, &u.FirstName, &u.LastName, &u.FatherName, &u.INN, &u.Phone, &u.Active)
	if errors.Is(err, pgx.ErrNoRows) {
		return ticket.User{}, fault.New(fault.NotFound, "user_not_found", "User not found")
	}
	if err != nil {
		return ticket.User{}, fmt.Errorf("directory user %d: %w", id, err)
	}
	u.Role = access.Role(role)
	return u, nil
}

// clockColumns are the due-time and state columns of each SLA clock.
var clockColumns = map[ticket.ClockKind][2]string{
	ticket.FirstResponse: {"first_response_due_at", "first_response_sla"},
	ticket.Resolution:    {"resolution_due_at", "resolution_sla"},
}

// BreachDue implements ticket.Store. SKIP LOCKED lets every replica run it
// at once: each claims clocks the others do not hold, and a clock is
// marked, with its event, by exactly one transaction.
func (s *Store) BreachDue(ctx context.Context, kind ticket.ClockKind, limit int, evs func(ticket.Ticket) ([]events.Event, error)) (int, error) {
	cols, ok := clockColumns[kind]
	if !ok {
		return 0, fmt.Errorf("unknown SLA clock %q", kind)
	}
	q := fmt.Sprintf(`
WITH due AS (
    SELECT id AS due_id FROM tickets.requests
    WHERE %[2]s = 'pending' AND %[1]s <= now()
    ORDER BY %[1]s
    LIMIT $1
    FOR UPDATE SKIP LOCKED
)
UPDATE tickets.requests SET %[2]s = 'breached' FROM due WHERE id = due.due_id
RETURNING `+ticketColumns, cols[0], cols[1])
	n := 0
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, q, limit)
		if err != nil {
			return err
		}
		list, err := pgx.CollectRows(rows, pgx.RowToStructByName[ticket.Ticket])
		if err != nil {
			return err
		}
		var all []events.Event
		for _, t := range list {
			out, err := evs(t)
			if err != nil {
				return err
			}
			all = append(all, out...)
		}
		n = len(list)
		return Outbox.Add(ctx, tx, all...)
	})
	if err != nil {
		return 0, fmt.Errorf("breach %s clocks: %w", kind, err)
	}
	return n, nil
}
