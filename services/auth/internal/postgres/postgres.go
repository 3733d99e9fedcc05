// Package postgres stores the auth service's users, refresh tokens and
// outbox in PostgreSQL (schema "auth").
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the auth schema's migrations.
var Migrations = pgdb.Migrations{FS: migrationFiles, Dir: "migrations", Table: "auth_schema_migrations"}

// Outbox is the auth service's outbox.
var Outbox = outbox.New("auth.outbox")

// Store implements user.Store.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// userColumns are the columns of a user.User, in the names it scans by.
const userColumns = `id, email, password_hash, role, inn, phone, first_name, last_name, father_name, birth_date, active, created_at, updated_at, version`

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// queryUser runs a query selecting userColumns of one user; no row is a
// NotFound fault.
func queryUser(ctx context.Context, q querier, sql string, args ...any) (user.User, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return user.User{}, err
	}
	u, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[user.User])
	if errors.Is(err, pgx.ErrNoRows) {
		return user.User{}, user.ErrNotFound
	}
	return u, err
}

// Create implements user.Store.
func (s *Store) Create(ctx context.Context, u user.User, evs func(user.User) ([]events.Event, error)) (user.User, error) {
	const q = `
INSERT INTO auth.users (email, password_hash, role, inn, phone, first_name, last_name, father_name, birth_date)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
RETURNING ` + userColumns

	var created user.User
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		created, err = queryUser(ctx, tx, q, u.Email, u.PasswordHash, string(u.Role), u.INN, u.Phone,
			u.FirstName, u.LastName, u.FatherName, u.BirthDate)
		if err != nil {
			return err
		}
		out, err := evs(created)
		if err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, out...)
	})
	if pgdb.IsUniqueViolation(err) {
		return user.User{}, user.ErrEmailTaken
	}
	if err != nil {
		return user.User{}, fmt.Errorf("insert user: %w", err)
	}
	return created, nil
}

func (s *Store) one(ctx context.Context, where string, arg any) (user.User, error) {
	return queryUser(ctx, s.pool, "SELECT "+userColumns+" FROM auth.users WHERE "+where, arg)
}

// ByEmail implements user.Store.
func (s *Store) ByEmail(ctx context.Context, email string) (user.User, error) {
	return s.one(ctx, "lower(email) = lower($1)", email)
}

// ByID implements user.Store.
func (s *Store) ByID(ctx context.Context, id int64) (user.User, error) {
	return s.one(ctx, "id = $1", id)
}

// AdminExists implements user.Store.
func (s *Store) AdminExists(ctx context.Context) (bool, error) {
	const q = `SELECT EXISTS (SELECT 1 FROM auth.users WHERE role = 'admin' AND active)`
	var ok bool
	if err := s.pool.QueryRow(ctx, q).Scan(&ok); err != nil {
		return false, fmt.Errorf("admin exists: %w", err)
	}
	return ok, nil
}

// SetPasswordHash implements user.Store.
func (s *Store) SetPasswordHash(ctx context.Context, id int64, hash string) error {
	const q = `UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1`
	if _, err := s.pool.Exec(ctx, q, id, hash); err != nil {
		return fmt.Errorf("set password hash of %d: %w", id, err)
	}
	return nil
}

// AddRefreshToken implements user.Store.
func (s *Store) AddRefreshToken(ctx context.Context, t user.RefreshToken) error {
	const q = `INSERT INTO auth.refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)`
	if _, err := s.pool.Exec(ctx, q, t.Hash, t.UserID, t.FamilyID, t.ExpiresAt); err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

// RotateRefreshToken implements user.Store.
func (s *Store) RotateRefreshToken(ctx context.Context, old []byte, next user.RefreshToken, onReuse func(user.RefreshToken) ([]events.Event, error)) (user.RefreshToken, error) {
	const find = `
SELECT user_id, family_id, expires_at, used_at IS NOT NULL, revoked_at IS NOT NULL
FROM auth.refresh_tokens WHERE token_hash = $1 FOR UPDATE`
	const revokeFamily = `UPDATE auth.refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL`
	const markUsed = `UPDATE auth.refresh_tokens SET used_at = now() WHERE token_hash = $1`
	const insert = `INSERT INTO auth.refresh_tokens (token_hash, user_id, family_id, expires_at) VALUES ($1, $2, $3, $4)`

	var t user.RefreshToken
	var reused bool
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		var used, revoked bool
		err := tx.QueryRow(ctx, find, old).Scan(&t.UserID, &t.FamilyID, &t.ExpiresAt, &used, &revoked)
		if errors.Is(err, pgx.ErrNoRows) {
			return user.ErrRefreshInvalid
		}
		if err != nil {
			return err
		}
		t.Hash = old
		switch {
		case revoked:
			return user.ErrRefreshInvalid
		case used:
			reused = true
			if _, err := tx.Exec(ctx, revokeFamily, t.FamilyID); err != nil {
				return err
			}
			evs, err := onReuse(t)
			if err != nil {
				return err
			}
			return Outbox.Add(ctx, tx, evs...)
		case time.Now().After(t.ExpiresAt):
			return user.ErrRefreshInvalid
		}
		if _, err := tx.Exec(ctx, markUsed, old); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, insert, next.Hash, t.UserID, t.FamilyID, next.ExpiresAt)
		return err
	})
	switch {
	case err != nil:
		return user.RefreshToken{}, fault.Wrap(err, "rotate refresh token")
	case reused:
		return user.RefreshToken{}, user.ErrRefreshReused
	}
	return t, nil
}

// RevokeSession implements user.Store.
func (s *Store) RevokeSession(ctx context.Context, userID int64, session string, hash []byte, evs []events.Event) error {
	const q = `
UPDATE auth.refresh_tokens SET revoked_at = now()
WHERE user_id = $1 AND revoked_at IS NULL
  AND (family_id = $2 OR family_id = (SELECT family_id FROM auth.refresh_tokens WHERE token_hash = $3))`
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, q, userID, session, hash); err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, evs...)
	})
	if err != nil {
		return fmt.Errorf("revoke session of %d: %w", userID, err)
	}
	return nil
}

// ChangePassword implements user.Store.
func (s *Store) ChangePassword(ctx context.Context, id int64, hash, keep string, evs func(revoked []string) ([]events.Event, error)) error {
	const set = `UPDATE auth.users SET password_hash = $2, updated_at = now() WHERE id = $1`
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, set, id, hash)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return user.ErrUserGone
		}
		families, err := revokeSessions(ctx, tx, id, keep)
		if err != nil {
			return err
		}
		out, err := evs(families)
		if err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, out...)
	})
	return fault.Wrap(err, "change password of %d", id)
}

// Update implements user.Store.
func (s *Store) Update(ctx context.Context, id int64, change func(*user.User) ([]events.Event, error)) (user.User, error) {
	const lock = `SELECT ` + userColumns + ` FROM auth.users WHERE id = $1 FOR UPDATE`
	const save = `
UPDATE auth.users SET password_hash = $2, role = $3, inn = $4, phone = $5, first_name = $6, last_name = $7,
    father_name = $8, birth_date = $9, active = $10, updated_at = now(), version = version + 1
WHERE id = $1
RETURNING ` + userColumns

	var saved user.User
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := queryUser(ctx, tx, lock, id)
		if err != nil {
			return err
		}
		evs, err := change(&u)
		if err != nil {
			return err
		}
		saved, err = queryUser(ctx, tx, save, id, u.PasswordHash, string(u.Role), u.INN, u.Phone, u.FirstName,
			u.LastName, u.FatherName, u.BirthDate, u.Active)
		if err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, evs...)
	})
	return saved, fault.Wrap(err, "update user %d", id)
}

// Append implements user.Store.
func (s *Store) Append(ctx context.Context, evs ...events.Event) error {
	return Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error { return Outbox.Add(ctx, tx, evs...) })
}

// List implements user.Store.
func (s *Store) List(ctx context.Context, role access.Role, offset, limit int) ([]user.User, int64, error) {
	const q = `SELECT ` + userColumns + ` FROM auth.users WHERE role = $1 ORDER BY id LIMIT $2 OFFSET $3`
	const count = `SELECT count(*) FROM auth.users WHERE role = $1`
	rows, err := s.pool.Query(ctx, q, string(role), limit, offset)
	if err != nil {
		return nil, 0, err
	}
	users, err := pgx.CollectRows(rows, pgx.RowToStructByName[user.User])
	if err != nil {
		return nil, 0, err
	}
	var total int64
	if err := s.pool.QueryRow(ctx, count, string(role)).Scan(&total); err != nil {
		return nil, 0, err
	}
	return users, total, nil
}

// Delete implements user.Store.
func (s *Store) Delete(ctx context.Context, id int64, role access.Role, evs func(user.User) ([]events.Event, error)) error {
	const lock = `SELECT ` + userColumns + ` FROM auth.users WHERE id = $1 AND role = $2 FOR UPDATE`
	const owned = `SELECT EXISTS (SELECT 1 FROM auth.ticket_refs WHERE owner_id = $1 AND NOT deleted)`
	const del = `DELETE FROM auth.users WHERE id = $1`
	return Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		u, err := queryUser(ctx, tx, lock, id, string(role))
		if err != nil {
			return err
		}
		var hasTickets bool
		if err := tx.QueryRow(ctx, owned, id).Scan(&hasTickets); err != nil {
			return err
		}
		if hasTickets {
			return user.ErrHasRequests
		}
		out, err := evs(u)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, del, id); err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, out...)
	})
}

// ApplyTicketRefs implements user.Store. A drop leaves a tombstone and a
// put never replaces a row, so the outcome does not depend on the order
// in which a ticket's creation and deletion arrive.
func (s *Store) ApplyTicketRefs(ctx context.Context, refs []user.TicketRef) error {
	tickets, owners, deleted := make([]int64, len(refs)), make([]int64, len(refs)), make([]bool, len(refs))
	for i, r := range refs {
		tickets[i], owners[i], deleted[i] = r.TicketID, r.OwnerID, r.Deleted
	}
	// One row per ticket: a ticket created and deleted in the same batch
	// is a tombstone (ON CONFLICT cannot touch a row twice in one insert).
	const q = `
INSERT INTO auth.ticket_refs (ticket_id, owner_id, deleted)
SELECT ticket_id, min(owner_id), bool_or(deleted)
FROM unnest($1::bigint[], $2::bigint[], $3::boolean[]) AS r (ticket_id, owner_id, deleted)
GROUP BY ticket_id
ON CONFLICT (ticket_id) DO UPDATE SET deleted = auth.ticket_refs.deleted OR EXCLUDED.deleted`
	if _, err := s.pool.Exec(ctx, q, tickets, owners, deleted); err != nil {
		return fmt.Errorf("apply %d ticket refs: %w", len(refs), err)
	}
	return nil
}

// ChangeRole implements user.Store.
func (s *Store) ChangeRole(ctx context.Context, id int64, role access.Role, evs func(before user.User, revoked []string) ([]events.Event, error)) (user.User, error) {
	const lock = `SELECT ` + userColumns + ` FROM auth.users WHERE id = $1 FOR UPDATE`
	const set = `UPDATE auth.users SET role = $2, updated_at = now(), version = version + 1 WHERE id = $1 RETURNING ` + userColumns
	var saved user.User
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		before, err := queryUser(ctx, tx, lock, id)
		if err != nil {
			return err
		}
		if saved, err = queryUser(ctx, tx, set, id, string(role)); err != nil {
			return err
		}
		families, err := revokeSessions(ctx, tx, id, "")
		if err != nil {
			return err
		}
		out, err := evs(before, families)
		if err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, out...)
	})
	return saved, err
}

// revokeSessions revokes the refresh tokens of every session of the user
// that could still be alive, but keep's, and returns the sessions' ids.
func revokeSessions(ctx context.Context, tx pgx.Tx, userID int64, keep string) ([]string, error) {
	const q = `
WITH revoked AS (
    UPDATE auth.refresh_tokens SET revoked_at = coalesce(revoked_at, now())
    WHERE user_id = $1 AND family_id <> $2 AND expires_at > now()
    RETURNING family_id)
SELECT DISTINCT family_id FROM revoked ORDER BY family_id`
	rows, err := tx.Query(ctx, q, userID, keep)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
