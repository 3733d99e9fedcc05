package audit

import (
	"cmp"
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
	// NthOldest returns the event time of the n-th oldest entry (1 is
	// the oldest), and false when there are fewer than n entries.
	NthOldest(ctx context.Context, n int) (time.Time, bool, error)
}

// Defaults of a Purger's steps.
const (
	DefaultPurgeBatch       = 10_000
	DefaultPurgeStepTimeout = time.Minute
)

// Purger deletes, every Every, the entries whose event time is more than
// Keep ago. It stands in for a TTL index where the database has none. Each
// replica may run one: a purge is idempotent.
type Purger struct {
	Store  Expirer
	Keep   time.Duration
	Every  time.Duration
	Now    func() time.Time
	Logger *slog.Logger
	// Batch is about how many entries one step deletes (0:
	// DefaultPurgeBatch), and StepTimeout bounds a step (0:
	// DefaultPurgeStepTimeout).
	Batch       int
	StepTimeout time.Duration
}

// PurgeOnce deletes the entries that are past the retention period now and
// returns how many it deleted. It goes oldest first, about Batch entries a
// step, each step a deletion of its own within StepTimeout: a backlog of
// millions is neither one huge transaction nor a wait without bound on a
// stalled database, and what a failed step leaves goes at the next purge.
func (p *Purger) PurgeOnce(ctx context.Context) (int64, error) {
	cutoff := p.Now().UTC().Add(-p.Keep)
	var total int64
	for {
		n, until, err := p.step(ctx, cutoff)
		total += n
		if err != nil || !until.Before(cutoff) {
			return total, err
		}
	}
}

// step deletes the oldest entries, up to and including the Batch-th oldest
// and those of its millisecond (the precision of a BSON date), or all of
// those before cutoff if that is fewer, and returns how many it deleted
// and the time it deleted before.
func (p *Purger) step(ctx context.Context, cutoff time.Time) (int64, time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, cmp.Or(p.StepTimeout, DefaultPurgeStepTimeout))
	defer cancel()
	until := cutoff
	t, ok, err := p.Store.NthOldest(ctx, cmp.Or(p.Batch, DefaultPurgeBatch))
	if err != nil {
		return 0, until, err
	}
	if next := t.UTC().Truncate(time.Millisecond).Add(time.Millisecond); ok && next.Before(cutoff) {
		until = next
	}
	n, err := p.Store.DeleteBefore(ctx, until)
	return n, until, err
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
