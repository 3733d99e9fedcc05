// Package outbox implements the transactional outbox: a service writes its
// events in the same transaction as the change they describe, and a Relay
// publishes them afterwards, so that a committed change always reaches the
// bus and a rolled-back one never does.
//
// Each service owns an outbox table in its schema with this shape:
//
//	CREATE TABLE <schema>.outbox (
//	    seq        bigserial   PRIMARY KEY,
//	    event_id   uuid        NOT NULL UNIQUE,
//	    event      jsonb       NOT NULL,
//	    created_at timestamptz NOT NULL DEFAULT now()
//	);
package outbox

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// Outbox names a service's outbox table and the channel that wakes its relay.
type Outbox struct {
	Table   string // schema-qualified, e.g. "auth.outbox"; a constant, never user input
	Channel string // LISTEN/NOTIFY channel, e.g. "auth_outbox"
}

// Add stores evs in the outbox within tx and notifies the relay, which
// PostgreSQL delivers only if tx commits.
func (o Outbox) Add(ctx context.Context, tx pgx.Tx, evs ...events.Event) error {
	if len(evs) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	q := "INSERT INTO " + o.Table + " (event_id, event) VALUES ($1, $2)"
	for _, ev := range evs {
		raw, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("encode event %s: %w", ev.Type, err)
		}
		batch.Queue(q, ev.ID, raw)
	}
	batch.Queue("SELECT pg_notify($1, '')", o.Channel)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return fmt.Errorf("add %d events to %s: %w", len(evs), o.Table, err)
	}
	return nil
}
