// Package postgres stores the webhooks service's endpoints, delivery jobs,
// attempts and outbox in PostgreSQL (schema "webhooks").
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the webhooks schema's migrations.
var Migrations = pgdb.Migrations{FS: migrationFiles, Dir: "migrations", Table: "webhooks_schema_migrations"}

// Outbox is the webhooks service's outbox.
var Outbox = outbox.New("webhooks.outbox")

// Store implements webhook.Store and webhook.Queue.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

const endpointColumns = `id::text, url, event_types, description, active, secret, created_at, updated_at, failing_since`

func collectEndpoint(rows pgx.Rows) (webhook.Endpoint, error) {
	e, err := pgx.CollectExactlyOneRow(rows, pgx.RowToStructByPos[webhook.Endpoint])
	if errors.Is(err, pgx.ErrNoRows) {
		return webhook.Endpoint{}, webhook.ErrNotFound
	}
	return e, err
}

// Create implements webhook.Store.
func (s *Store) Create(ctx context.Context, e webhook.Endpoint) (webhook.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `
INSERT INTO webhooks.endpoints (id, url, event_types, description, active, secret, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+endpointColumns,
		uuid.New(), e.URL, e.EventTypes, e.Description, e.Active, e.Secret, e.CreatedAt, e.UpdatedAt)
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("create webhook: %w", err)
	}
	saved, err := collectEndpoint(rows)
	return saved, fault.Wrap(err, "create webhook")
}

// List implements webhook.Store.
func (s *Store) List(ctx context.Context) ([]webhook.Endpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhooks.endpoints ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list webhooks: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[webhook.Endpoint])
	return list, fault.Wrap(err, "list webhooks")
}

// validID keeps a malformed id from reaching PostgreSQL's uuid parser (a
// 500): no such endpoint.
func validID(id string) error {
	if uuid.Validate(id) != nil {
		return webhook.ErrNotFound
	}
	return nil
}

// Get implements webhook.Store.
func (s *Store) Get(ctx context.Context, id string) (webhook.Endpoint, error) {
	if err := validID(id); err != nil {
		return webhook.Endpoint{}, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+endpointColumns+` FROM webhooks.endpoints WHERE id = $1`, id)
	if err != nil {
		return webhook.Endpoint{}, fmt.Errorf("get webhook: %w", err)
	}
	e, err := collectEndpoint(rows)
	return e, fault.Wrap(err, "get webhook %s", id)
}

func lock(ctx context.Context, tx pgx.Tx, id string) (webhook.Endpoint, error) {
	rows, err := tx.Query(ctx, `SELECT `+endpointColumns+` FROM webhooks.endpoints WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return webhook.Endpoint{}, err
	}
	return collectEndpoint(rows)
}

func save(ctx context.Context, tx pgx.Tx, e webhook.Endpoint) error {
	_, err := tx.Exec(ctx, `
UPDATE webhooks.endpoints SET url = $2, event_types = $3, description = $4, active = $5, secret = $6,
    updated_at = $7, failing_since = $8
WHERE id = $1`, e.ID, e.URL, e.EventTypes, e.Description, e.Active, e.Secret, e.UpdatedAt, e.FailingSince)
	return err
}

// Update implements webhook.Store.
func (s *Store) Update(ctx context.Context, id string, change func(*webhook.Endpoint) error) (webhook.Endpoint, error) {
	if err := validID(id); err != nil {
		return webhook.Endpoint{}, err
	}
	var saved webhook.Endpoint
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := lock(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := change(&e); err != nil {
			return err
		}
		saved = e
		return save(ctx, tx, e)
	})
	return saved, fault.Wrap(err, "update webhook %s", id)
}

// Delete implements webhook.Store.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks.endpoints WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete webhook %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return webhook.ErrNotFound
	}
	return nil
}

type attemptRow struct {
	ID         int64
	EndpointID string
	EventID    string
	EventType  string
	Attempt    int
	StatusCode *int
	Error      *string
	DurationMS int64
	CreatedAt  time.Time
	Total      int64
}

// Attempts implements webhook.Store.
func (s *Store) Attempts(ctx context.Context, id string, offset, limit int) ([]webhook.Attempt, int64, error) {
	rows, err := s.pool.Query(ctx, `
SELECT id, endpoint_id::text, event_id, event_type, attempt, status_code, error, duration_ms, created_at,
       count(*) OVER () AS total
FROM webhooks.attempts WHERE endpoint_id = $1 ORDER BY id DESC LIMIT $2 OFFSET $3`, id, limit, offset)
	if err != nil {
		return nil, 0, fmt.Errorf("webhook attempts: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[attemptRow])
	if err != nil {
		return nil, 0, fmt.Errorf("webhook attempts: %w", err)
	}
	out := make([]webhook.Attempt, len(list))
	var total int64
	for i, r := range list {
		out[i] = webhook.Attempt{ID: r.ID, EndpointID: r.EndpointID, EventID: r.EventID, EventType: r.EventType, Attempt: r.Attempt,
			StatusCode: r.StatusCode, Error: r.Error, Duration: time.Duration(r.DurationMS) * time.Millisecond, CreatedAt: r.CreatedAt}
		total = r.Total
	}
	if len(list) == 0 && offset > 0 {
		// A page past the end has no row to carry the count.
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.attempts WHERE endpoint_id = $1`, id).Scan(&total); err != nil {
			return nil, 0, fmt.Errorf("webhook attempts: %w", err)
		}
	}
	return out, total, nil
}

// PruneAttempts implements webhook.AttemptPruner.
func (s *Store) PruneAttempts(ctx context.Context, before time.Time, limit int) (int64, error) {
	tag, err := s.pool.Exec(ctx, `
DELETE FROM webhooks.attempts WHERE id IN (
    SELECT id FROM webhooks.attempts WHERE created_at < $1 ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("delete webhook attempts before %s: %w", before.Format(time.RFC3339), err)
	}
	return tag.RowsAffected(), nil
}

// Enqueue implements webhook.Queue: one statement for the batch.
func (s *Store) Enqueue(ctx context.Context, evs []webhook.Queued) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	ids, types, bodies := make([]string, len(evs)), make([]string, len(evs)), make([][]byte, len(evs))
	for i, ev := range evs {
		ids[i], types[i], bodies[i] = ev.EventID, ev.EventType, ev.Body
	}
	tag, err := s.pool.Exec(ctx, `
INSERT INTO webhooks.jobs (endpoint_id, event_id, event_type, body)
SELECT e.id, ev.id, ev.type, ev.body
FROM unnest($1::text[], $2::text[], $3::bytea[]) AS ev (id, type, body)
JOIN webhooks.endpoints e ON e.active AND ev.type = ANY (e.event_types)
ON CONFLICT (endpoint_id, event_id) DO NOTHING`, ids, types, bodies)
	if err != nil {
		return 0, fmt.Errorf("queue %d events for webhooks: %w", len(evs), err)
	}
	return int(tag.RowsAffected()), nil
}

type jobRow struct {
	ID        int64
	EventID   string
	EventType string
	Body      []byte
	Attempts  int
	webhook.Endpoint
}

// Claim implements webhook.Queue. The lease is the job's due time moved
// ahead; of two replicas claiming one job, the second's UPDATE finds it no
// longer due and skips it.
func (s *Store) Claim(ctx context.Context, limit, perEndpoint int, busy []string, lease time.Duration) ([]webhook.Job, error) {
	if busy == nil {
		busy = []string{}
	}
	rows, err := s.pool.Query(ctx, `
WITH due AS (
    SELECT id FROM (
        SELECT j.id, j.next_attempt_at,
               row_number() OVER (PARTITION BY j.endpoint_id ORDER BY j.next_attempt_at, j.id) AS n
        FROM webhooks.jobs j JOIN webhooks.endpoints e ON e.id = j.endpoint_id AND e.active
        WHERE j.next_attempt_at <= now() AND j.endpoint_id::text <> ALL ($3::text[])
    ) ranked
    WHERE n <= $2
    ORDER BY next_attempt_at
    LIMIT $1
), claimed AS (
    UPDATE webhooks.jobs j SET next_attempt_at = now() + $4::interval
    FROM due WHERE j.id = due.id AND j.next_attempt_at <= now()
    RETURNING j.id, j.event_id, j.event_type, j.body, j.attempts, j.endpoint_id
)
SELECT c.id, c.event_id, c.event_type, c.body, c.attempts,
       e.id::text, e.url, e.event_types, e.description, e.active, e.secret, e.created_at, e.updated_at, e.failing_since
FROM claimed c JOIN webhooks.endpoints e ON e.id = c.endpoint_id`, limit, perEndpoint, busy, lease)
	if err != nil {
		return nil, fmt.Errorf("claim webhook jobs: %w", err)
	}
	list, err := pgx.CollectRows(rows, pgx.RowToStructByPos[jobRow])
	if err != nil {
		return nil, fmt.Errorf("claim webhook jobs: %w", err)
	}
	jobs := make([]webhook.Job, len(list))
	for i, r := range list {
		jobs[i] = webhook.Job{ID: r.ID, Endpoint: r.Endpoint, EventID: r.EventID, EventType: r.EventType, Body: r.Body, Attempts: r.Attempts}
	}
	return jobs, nil
}

// Finish implements webhook.Queue.
func (s *Store) Finish(ctx context.Context, j webhook.Job, a webhook.Attempt, retryAt *time.Time, settle func(*webhook.Endpoint) ([]events.Event, error)) error {
	err := Outbox.Tx(ctx, s.pool, func(tx pgx.Tx) error {
		e, err := lock(ctx, tx, j.Endpoint.ID)
		if err != nil {
			return err // gone: its jobs and attempts went with it
		}
		if _, err := tx.Exec(ctx, `
INSERT INTO webhooks.attempts (endpoint_id, event_id, event_type, attempt, status_code, error, duration_ms)
VALUES ($1, $2, $3, $4, $5, $6, $7)`, e.ID, a.EventID, a.EventType, a.Attempt, a.StatusCode, a.Error, a.Duration.Milliseconds()); err != nil {
			return err
		}
		if retryAt == nil {
			_, err = tx.Exec(ctx, `DELETE FROM webhooks.jobs WHERE id = $1`, j.ID)
		} else {
			_, err = tx.Exec(ctx, `UPDATE webhooks.jobs SET attempts = $2, next_attempt_at = $3 WHERE id = $1`, j.ID, a.Attempt, *retryAt)
		}
		if err != nil {
			return err
		}
		evs, err := settle(&e)
		if err != nil {
			return err
		}
		if err := save(ctx, tx, e); err != nil {
			return err
		}
		return Outbox.Add(ctx, tx, evs...)
	})
	if fault.Is(err, fault.NotFound) {
		return nil
	}
	return fault.Wrap(err, "finish webhook job %d", j.ID)
}
