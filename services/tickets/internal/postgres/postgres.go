// Package postgres stores the tickets service's requests, user directory and
// outbox in PostgreSQL (schema "tickets").
package postgres

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the tickets schema's migrations.
var Migrations = pgdb.Migrations{FS: migrationFiles, Dir: "migrations", Table: "tickets_schema_migrations"}

// Outbox is the tickets service's outbox.
var Outbox = outbox.New("tickets.outbox")

// Store implements ticket.Store.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// ticketColumns are the columns of a ticket.Ticket, in the names it scans by.
const ticketColumns = `id, owner_id, staff_id, title, text, status, priority, category, staff_comment, version,
created_at, updated_at, first_response_at, resolved_at, first_response_due_at, resolution_due_at,
first_response_sla, resolution_sla`

// Create implements ticket.Store.
func (s *Store) Create(ctx context.Context, t ticket.Ticket, idem *ticket.Idempotency, evs func(ticket.Ticket) ([]events.Event, error)) (ticket.View, error) {
	// The insert returns the ticket with its people: no read after it.
	const q = `
WITH r AS (
    INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, created_at, updated_at,
        first_response_due_at, resolution_due_at, first_response_sla, resolution_sla)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
    RETURNING *
)` + viewColumns + ` FROM r` + viewJoins

	var view ticket.View
	id, replayed, err := s.insertOnce(ctx, idem, func(first *pgx.Batch) {
		first.Queue(q, t.OwnerID, t.StaffID, t.Title, t.Text, string(t.Status), string(t.Priority), t.Category,
			t.CreatedAt, t.UpdatedAt, t.FirstResponseDueAt, t.ResolutionDueAt, string(t.FirstResponseSLA), string(t.ResolutionSLA))
	}, func(br pgx.BatchResults, last *pgx.Batch) (int64, error) {
		rows, err := br.Query()
		if err != nil {
			return 0, err
		}
		row, err := pgx.CollectExactlyOneRow(rows, scanView)
		if err != nil {
			return 0, err
		}
		out, err := evs(row.Ticket)
		if err != nil {
			return 0, err
		}
		view = toView(row)
		return row.ID, Outbox.Queue(last, out...)
	})
	if err != nil {
		return ticket.View{}, fmt.Errorf("insert ticket: %w", err)
	}
	if replayed {
		return s.Get(ctx, id)
	}
	return view, nil
}

// insertOnce runs an insert and its events in one transaction: queue adds
// the insert's statements to the first batch; then reads their results,
// returns the new row's id and queues the rest (its events) in last.
//
// Without an idempotency key the transaction is pipelined: two round trips
// (Outbox.Pipelined). With one, the key is looked up first: recorded
// before, the request is replayed (the first result's id, replayed) if it
// is the same and refused if not; new, it is recorded with the insert. Two
// concurrent requests with one key meet at the key's primary key; the
// loser retries and replays.
func (s *Store) insertOnce(ctx context.Context, idem *ticket.Idempotency, queue func(first *pgx.Batch),
	then func(br pgx.BatchResults, last *pgx.Batch) (int64, error),
) (id int64, replayed bool, err error) {
	if idem == nil {
		first := &pgx.Batch{}
		queue(first)
		err := Outbox.Pipelined(ctx, s.pool, first, func(br pgx.BatchResults, last *pgx.Batch) error {
			var err error
			id, err = then(br, last)
			return err
		})
		return id, false, err
	}

	const find = `SELECT request_hash, resource_id FROM tickets.idempotency_keys WHERE actor_id = $1 AND scope = $2 AND key = $3`
	const record = `INSERT INTO tickets.idempotency_keys (actor_id, scope, key, request_hash, resource_id) VALUES ($1, $2, $3, $4, $5)`
	for attempt := 0; ; attempt++ {
		replayed = false
		err = Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
			var hash []byte
			err := tx.QueryRow(ctx, find, idem.ActorID, idem.Scope, idem.Key).Scan(&hash, &id)
			switch {
			case err == nil && !bytes.Equal(hash, idem.Hash):
				return ticket.ErrIdempotencyMismatch
			case err == nil:
				replayed = true
				return nil
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
			first, last := &pgx.Batch{}, &pgx.Batch{}
			queue(first)
			br := tx.SendBatch(ctx, first)
			id, err = then(br, last)
			if cerr := br.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			last.Queue(record, idem.ActorID, idem.Scope, idem.Key, idem.Hash, id)
			return tx.SendBatch(ctx, last).Close()
		})
		if pgdb.IsUniqueViolation(err) && attempt == 0 {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		return id, replayed, nil
	}
}

// viewRow is a row of viewColumns.
type viewRow struct {
	ticket.Ticket
	OwnerEmail      *string
	OwnerRole       *string
	OwnerFirstName  *string
	OwnerLastName   *string
	OwnerFatherName *string
	OwnerActive     *bool
	OwnerINN        *string
	OwnerPhone      *string
	StaffEmail      *string
	StaffRole       *string
	StaffFirstName  *string
	StaffLastName   *string
	StaffFatherName *string
	StaffActive     *bool
}

// targets are the fields of r in the order of viewColumns, then more, for
// columns after them. Views are what every read of a ticket or a list
// returns, so they are scanned by position rather than by pgx matching
// columns to fields by name (see BenchmarkReads).
func (r *viewRow) targets(more ...any) []any {
	t := &r.Ticket
	fields := append(make([]any, 0, 32+len(more)), &t.ID, &t.OwnerID, &t.StaffID, &t.Title, &t.Text, &t.Status, &t.Priority, &t.Category, &t.StaffComment,
		&t.Version, &t.CreatedAt, &t.UpdatedAt, &t.FirstResponseAt, &t.ResolvedAt,
		&t.FirstResponseDueAt, &t.ResolutionDueAt, &t.FirstResponseSLA, &t.ResolutionSLA,
		&r.OwnerEmail, &r.OwnerRole, &r.OwnerFirstName, &r.OwnerLastName, &r.OwnerFatherName, &r.OwnerActive,
		&r.OwnerINN, &r.OwnerPhone,
		&r.StaffEmail, &r.StaffRole, &r.StaffFirstName, &r.StaffLastName, &r.StaffFatherName, &r.StaffActive)
	return append(fields, more...)
}

// scanView reads a row of viewColumns.
func scanView(row pgx.CollectableRow) (viewRow, error) {
	var r viewRow
	err := row.Scan(r.targets()...)
	return r, err
}

func directoryUser(id int64, email, role *string, first, last, father *string, active *bool) ticket.User {
	u := ticket.User{ID: id, FirstName: first, LastName: last, FatherName: father}
	if email != nil {
		u.Email = *email
	}
	if role != nil {
		u.Role = access.Role(*role)
	}
	if active != nil {
		u.Active = *active
	}
	return u
}

func toView(r viewRow) ticket.View {
	v := ticket.View{
		Ticket: r.Ticket,
		Owner:  directoryUser(r.OwnerID, r.OwnerEmail, r.OwnerRole, r.OwnerFirstName, r.OwnerLastName, r.OwnerFatherName, r.OwnerActive),
	}
	v.Owner.INN, v.Owner.Phone = r.OwnerINN, r.OwnerPhone
	if r.StaffID != nil {
		staff := directoryUser(*r.StaffID, r.StaffEmail, r.StaffRole, r.StaffFirstName, r.StaffLastName, r.StaffFatherName, r.StaffActive)
		v.Staff = &staff
	}
	return v
}

// viewColumns and viewJoins read a ticket (as r) with its owner and staff
// member from the directory.
const (
	viewColumns = `
SELECT r.id, r.owner_id, r.staff_id, r.title, r.text, r.status, r.priority, r.category, r.staff_comment,
       r.version, r.created_at, r.updated_at, r.first_response_at, r.resolved_at,
       r.first_response_due_at, r.resolution_due_at, r.first_response_sla, r.resolution_sla,
       o.email AS owner_email, o.role AS owner_role, o.first_name AS owner_first_name,
       o.last_name AS owner_last_name, o.father_name AS owner_father_name, o.active AS owner_active,
       o.inn AS owner_inn, o.phone AS owner_phone,
       s.email AS staff_email, s.role AS staff_role, s.first_name AS staff_first_name,
       s.last_name AS staff_last_name, s.father_name AS staff_father_name, s.active AS staff_active`
	viewJoins = `
LEFT JOIN tickets.users o ON o.id = r.owner_id
LEFT JOIN tickets.users s ON s.id = r.staff_id`
	viewSelect = viewColumns + `
FROM tickets.requests r` + viewJoins
)

// Get implements ticket.Store.
func (s *Store) Get(ctx context.Context, id int64) (ticket.View, error) {
	rows, err := s.pool.Query(ctx, viewSelect+` WHERE r.id = $1`, id)
	if err != nil {
		return ticket.View{}, fmt.Errorf("get ticket %d: %w", id, err)
	}
	row, err := pgx.CollectExactlyOneRow(rows, scanView)
	if errors.Is(err, pgx.ErrNoRows) {
		return ticket.View{}, ticket.ErrNotFound
	}
	if err != nil {
		return ticket.View{}, fmt.Errorf("get ticket %d: %w", id, err)
	}
	return toView(row), nil
}

// PutUser implements ticket.Store.
func (s *Store) PutUser(ctx context.Context, u ticket.User, version int64) error {
	const q = `
INSERT INTO tickets.users (id, email, role, first_name, last_name, father_name, inn, phone, active, version, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, now())
ON CONFLICT (id) DO UPDATE SET
    email = EXCLUDED.email, role = EXCLUDED.role, first_name = EXCLUDED.first_name,
    last_name = EXCLUDED.last_name, father_name = EXCLUDED.father_name, inn = EXCLUDED.inn,
    phone = EXCLUDED.phone, active = EXCLUDED.active, version = EXCLUDED.version, updated_at = now()
WHERE tickets.users.version <= EXCLUDED.version`
	if _, err := s.pool.Exec(ctx, q, u.ID, u.Email, string(u.Role), u.FirstName, u.LastName, u.FatherName, u.INN, u.Phone, u.Active, version); err != nil {
		return fmt.Errorf("put directory user %d: %w", u.ID, err)
	}
	return nil
}
