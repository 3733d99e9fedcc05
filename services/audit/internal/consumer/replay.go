package consumer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// ReplayResult counts what a replay did with each message it read.
type ReplayResult struct {
	Read     int // messages read from the stream
	Stored   int // events stored by this replay
	Existing int // events that were stored already
	Invalid  int // messages that can never be stored (the live consumer dead-lettered them)
}

// replayFetch and replayWait size each fetch of a replay.
const (
	replayFetch = 256
	replayWait  = 2 * time.Second
)

// Replay reads every event of the stream published since a time, on every
// subject the live consumer reads, and records each with the same
// idempotent insert, so that a store that lost documents (or a new one) is
// rebuilt without duplicates. It returns once it has caught up with the
// stream: when nothing is left pending. It reads through an ephemeral
// consumer that acknowledges nothing, so the durable consumer's progress is
// untouched and a replay may run next to the service.
//
// A message that can never be stored is counted and skipped, not
// dead-lettered again. Any other failure (the store is down) stops the
// replay with an error; running it again is safe.
func Replay(ctx context.Context, js jetstream.JetStream, stream string, since time.Time, r Recorder) (ReplayResult, error) {
	var res ReplayResult
	cons, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Description:       "audit replay",
		FilterSubject:     events.SubjectAll,
		DeliverPolicy:     jetstream.DeliverByStartTimePolicy,
		OptStartTime:      &since,
		AckPolicy:         jetstream.AckNonePolicy,
		InactiveThreshold: time.Minute, // the server removes it if this process dies
	})
	if err != nil {
		return res, fmt.Errorf("create replay consumer on %s: %w", stream, err)
	}
	defer func() {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = js.DeleteConsumer(dctx, stream, cons.CachedInfo().Name)
	}()

	pending := cons.CachedInfo().NumPending
	for pending > 0 {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		batch, err := cons.Fetch(replayFetch, jetstream.FetchMaxWait(replayWait))
		if err != nil {
			return res, fmt.Errorf("fetch: %w", err)
		}
		var msgs []jetstream.Msg
		for msg := range batch.Messages() {
			msgs = append(msgs, msg)
			if md, err := msg.Metadata(); err == nil {
				pending = md.NumPending
			}
			if pending == 0 {
				break // caught up: do not wait for the rest of the batch
			}
		}
		got := len(msgs)
		if err := replayBatch(ctx, msgs, r, &res); err != nil {
			return res, err
		}
		if pending == 0 && got > 0 {
			return res, nil
		}
		if err := batch.Error(); err != nil && !errors.Is(err, jetstream.ErrNoMessages) && !errors.Is(err, context.DeadlineExceeded) {
			return res, fmt.Errorf("fetch: %w", err)
		}
		if got == 0 {
			// Nothing came within the wait: ask the server whether
			// anything is left (the stream's limits may have removed
			// what was pending).
			info, err := cons.Info(ctx)
			if err != nil {
				return res, fmt.Errorf("replay consumer info: %w", err)
			}
			pending = info.NumPending
		}
	}
	return res, nil
}

// replayBatch records the replayed messages with one write.
func replayBatch(ctx context.Context, msgs []jetstream.Msg, r Recorder, res *ReplayResult) error {
	evs := make([]events.Event, 0, len(msgs))
	for _, msg := range msgs {
		res.Read++
		ev, err := events.Decode(msg.Data())
		if err != nil {
			res.Invalid++
			continue
		}
		evs = append(evs, ev)
	}
	if len(evs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, HandleTimeout)
	defer cancel()
	for i, rec := range r.RecordBatch(ctx, evs) {
		switch {
		case errors.Is(rec.Err, audit.ErrInvalidEvent):
			res.Invalid++
		case rec.Err != nil:
			return fmt.Errorf("replay event %s: %w", evs[i].ID, rec.Err)
		case rec.New:
			res.Stored++
		default:
			res.Existing++
		}
	}
	return nil
}
