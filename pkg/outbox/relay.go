package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
)

// Publisher sends one event and returns once the bus has stored it.
type Publisher interface {
	Publish(ctx context.Context, ev events.Event) error
}

// BatchPublisher is a Publisher that can send a batch of events at once
// (bus.Publisher can): it returns how many from the start of evs are
// published, and the error that stopped the next.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, evs []events.Event) (int, error)
}

// RelayConfig tunes a Relay; zero values take the defaults.
type RelayConfig struct {
	BatchSize    int           // rows claimed per transaction; default 100
	PollInterval time.Duration // how often it looks without a wake-up (rows other processes wrote); default 2s
	RetryDelay   time.Duration // pause after a failed publish; default 1s
	// BatchTimeout bounds one batch, from the claim to the commit, its
	// publish and the bus's acks included: past it the transaction rolls
	// back and the batch goes again, so that a stalled database or bus
	// neither holds the relay nor keeps its rows locked. Default 15s.
	BatchTimeout time.Duration
	// Linger is how long the relay lets more rows arrive after a
	// wake-up before it claims them: at a high rate of single-event
	// transactions, a few milliseconds make one claim, publish and delete
	// serve several events. 0 claims at once.
	Linger time.Duration
}

// Relay publishes the rows of an outbox in order and deletes each row only
// after the bus acknowledged it. Rows are claimed with FOR UPDATE SKIP LOCKED,
// so several replicas can run a relay on the same table. A crash between the
// publish and the commit republishes the row, and the bus drops the duplicate
// by its Nats-Msg-Id.
type Relay struct {
	outbox Outbox
	pool   *pgxpool.Pool
	pub    Publisher
	cfg    RelayConfig
	logger *slog.Logger
	failed prometheus.Counter // publishes that failed
}

// NewRelay returns a relay for o.
func NewRelay(o Outbox, pool *pgxpool.Pool, pub Publisher, cfg RelayConfig, logger *slog.Logger) *Relay {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 100
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = time.Second
	}
	if cfg.BatchTimeout <= 0 {
		cfg.BatchTimeout = 15 * time.Second
	}
	return &Relay{outbox: o, pool: pool, pub: pub, cfg: cfg, logger: logger,
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "outbox_publish_failures_total",
			Help:        "Publishes of outbox events that failed (the event stays in the outbox and goes again).",
			ConstLabels: prometheus.Labels{"table": o.Table},
		})}
}

// Run relays until ctx is cancelled. It stops between batches, never in the
// middle of one, and returns nil on cancellation.
func (r *Relay) Run(ctx context.Context) error {
	for {
		n, err := r.drain(ctx)
		if ctx.Err() != nil {
			return nil
		}
		delay := r.cfg.PollInterval
		if err != nil {
			r.logger.WarnContext(ctx, "outbox relay: publish failed; retrying", "table", r.outbox.Table, "err", err)
			delay = r.cfg.RetryDelay
		} else if n > 0 {
			r.logger.DebugContext(ctx, "outbox relay: published", "table", r.outbox.Table, "events", n)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-r.outbox.wake:
			if r.cfg.Linger > 0 {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(r.cfg.Linger):
				}
			}
		case <-time.After(delay):
		}
	}
}

// Backlog returns the number of rows waiting to be published.
func (r *Relay) Backlog(ctx context.Context) (int64, error) {
	var n int64
	err := r.pool.QueryRow(ctx, "SELECT count(*) FROM "+r.outbox.Table).Scan(&n)
	return n, err
}

// drain publishes batches until the outbox is empty or a publish fails.
func (r *Relay) drain(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := r.publishBatch(context.WithoutCancel(ctx))
		total += n
		if err != nil || n < r.cfg.BatchSize || ctx.Err() != nil {
			return total, err
		}
	}
}

// publishBatch claims up to BatchSize rows, publishes them in order and
// deletes those that were published, all in one transaction of two round
// trips (the claim with BEGIN, the deletion with COMMIT), within the
// batch timeout.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.BatchTimeout)
	defer cancel()
	claim := &pgx.Batch{}
	claim.Queue("SELECT seq, event FROM "+r.outbox.Table+" ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED", r.cfg.BatchSize)
	var done []int64
	var pubErr error
	err := pgdb.Pipelined(ctx, r.pool, claim, func(br pgx.BatchResults, last *pgx.Batch) error {
		rows, err := br.Query()
		if err != nil {
			return fmt.Errorf("claim rows: %w", err)
		}
		claimed, err := pgx.CollectRows(rows, func(rw pgx.CollectableRow) (claimedRow, error) {
			var out claimedRow
			err := rw.Scan(&out.seq, &out.ev)
			return out, err
		})
		if err != nil {
			return fmt.Errorf("read rows: %w", err)
		}
		if done, pubErr = r.publish(ctx, claimed); len(done) > 0 {
			last.Queue("DELETE FROM "+r.outbox.Table+" WHERE seq = ANY($1)", done)
		}
		return nil
	})
	if err != nil {
		return 0, errors.Join(pubErr, fmt.Errorf("claim, delete published: %w", err))
	}
	return len(done), pubErr
}

// claimedRow is an outbox row the relay has locked.
type claimedRow struct {
	seq int64
	ev  events.Event
}

// publish sends rows in order, as one batch when the publisher can, and
// returns the seqs of those the bus acknowledged and the error that stopped
// the next.
func (r *Relay) publish(ctx context.Context, rows []claimedRow) (done []int64, err error) {
	if batch, ok := r.pub.(BatchPublisher); ok && len(rows) > 0 {
		evs := make([]events.Event, len(rows))
		for i, c := range rows {
			evs[i] = c.ev
		}
		n, err := batch.PublishBatch(ctx, evs)
		if err != nil {
			r.failed.Inc()
		}
		for _, c := range rows[:n] {
			done = append(done, c.seq)
		}
		return done, err
	}
	for _, c := range rows {
		if err := r.pub.Publish(c.ev.Context(ctx), c.ev); err != nil {
			r.failed.Inc()
			return done, err
		}
		done = append(done, c.seq)
	}
	return done, nil
}
