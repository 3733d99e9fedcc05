package audit

import (
	"context"
	"log/slog"
	"time"
)

// Retention is how entries older than the retention period go away.
type Retention int

// The ways of retention.
const (
	// KeepForever keeps every entry (a retention period of 0).
	KeepForever Retention = iota
	// ByTTL leaves the deletion to the database's TTL index on the event
	// time (MongoDB).
	ByTTL
	// ByPurge deletes old entries from a Purger, where the database has no
	// TTL index (FerretDB).
	ByPurge
)

// String names r for logs.
func (r Retention) String() string {
	switch r {
	case KeepForever:
		return "keep forever"
	case ByTTL:
		return "TTL index"
	case ByPurge:
		return "periodic purge"
	}
	return "unknown"
}

// Expirer deletes the entries of events older than a time.
type Expirer interface {
	DeleteBefore(ctx context.Context, t time.Time) (int64, error)
}

// Purger deletes, every Every, the entries whose event time is more than
// Keep ago. It stands in for a TTL index where the database has none. Each
// replica may run one: a purge is idempotent.
type Purger struct {
	Store  Expirer
	Keep   time.Duration
	Every  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
}

// PurgeOnce deletes the entries that are past the retention period now and
// returns how many it deleted.
func (p *Purger) PurgeOnce(ctx context.Context) (int64, error) {
	return p.Store.DeleteBefore(ctx, p.Now().UTC().Add(-p.Keep))
}

// Run purges at once and then every p.Every until ctx ends. A failed purge
// is logged and tried again at the next tick.
func (p *Purger) Run(ctx context.Context) {
	tick := time.NewTicker(p.Every)
	defer tick.Stop()
	for {
		n, err := p.PurgeOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			p.Logger.WarnContext(ctx, "retention purge failed; will retry", "retry_in", p.Every.String(), "err", err)
		case n > 0:
			p.Logger.InfoContext(ctx, "retention purge", "deleted", n, "keep", p.Keep.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
