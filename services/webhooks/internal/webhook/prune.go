package webhook

import (
	"context"
	"log/slog"
	"time"
)

// AttemptPruner deletes old delivery attempts.
type AttemptPruner interface {
	// PruneAttempts deletes up to limit attempts made before before and
	// returns how many it deleted.
	PruneAttempts(ctx context.Context, before time.Time, limit int) (int64, error)
}

// pruneBatch is the most attempts one statement deletes, so that pruning a
// large backlog never holds many rows locked at once.
const pruneBatch = 5_000

// PruneAttempts keeps the attempt log bounded until ctx ends: at once and
// then every interval, it deletes the attempts older than keep, a batch at
// a time. Every replica may run it; they skip each other's rows. A failure
// is logged and tried again at the next interval.
func PruneAttempts(ctx context.Context, p AttemptPruner, keep, interval time.Duration, logger *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		before := time.Now().Add(-keep)
		for {
			n, err := p.PruneAttempts(ctx, before, pruneBatch)
			if err != nil && ctx.Err() == nil {
				logger.WarnContext(ctx, "webhooks: delete old delivery attempts", "err", err)
			}
			if err != nil || n < pruneBatch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
