package postgres_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/postgres"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

// Attempts older than the retention are deleted, in batches, and the
// newer ones stay listed.
func TestPruneAttempts(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	svc := webhook.NewService(store, webhook.Guard{AllowPrivate: true})
	ep := register(t, svc, "http://127.0.0.1:9/hook", events.TypeTicketCreated) // never dialled
	ctx := context.Background()
	// 12 000 attempts 40 days old (more than two batches) and 3 of today.
	if _, err := pool.Exec(ctx, `
INSERT INTO webhooks.attempts (endpoint_id, event_id, event_type, attempt, status_code, duration_ms, created_at)
SELECT $1::uuid, 'old-' || n, $2, 1, 200, 5, now() - interval '40 days' - n * interval '1 second'
FROM generate_series(1, 12000) AS n
UNION ALL
SELECT $1::uuid, 'new-' || n, $2, 1, 200, 5, now() - n * interval '1 minute' FROM generate_series(1, 3) AS n`,
		ep.ID, events.TypeTicketCreated); err != nil {
		t.Fatal(err)
	}

	n, err := store.PruneAttempts(ctx, time.Now().Add(-30*24*time.Hour), 100)
	if err != nil || n != 100 {
		t.Fatalf("one batch of 100 deleted %d: %v", n, err)
	}

	runCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		_ = webhook.PruneAttempts(runCtx, store, 30*24*time.Hour, time.Hour, slog.New(slog.NewTextHandler(io.Discard, nil)))
	})
	defer func() { stop(); wg.Wait() }()
	var left int64
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, left, err = svc.Attempts(ctx, admin, ep.ID, 0, 50); err != nil {
			t.Fatal(err)
		}
		if left == 3 {
			break
		}
	}
	attempts, _, err := svc.Attempts(ctx, admin, ep.ID, 0, 50)
	if err != nil || left != 3 || len(attempts) != 3 || attempts[0].EventID[:4] != "new-" {
		t.Fatalf("after pruning: %d attempts (%v), want the 3 of today", left, err)
	}
}
