package ratelimit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// ShareInterval is how often a shared Keyed tells the other replicas what
// it spent.
const ShareInterval = 200 * time.Millisecond

// StreamName is the JetStream stream that holds the spends of the last
// minutes, on subjects ratelimit.>: the shared state of every limit.
const StreamName = "RATELIMITS"

// streamMaxAge is how long spends are kept: longer than any limit takes to
// fill an empty bucket again (login throttling's account limit, 250 s), so
// that a replica that starts learns every spend that still counts.
const streamMaxAge = 5 * time.Minute

// maxPending bounds the keys one replica shares per interval: past it,
// spends of further keys are not shared (each replica still limits them
// itself), so that a flood of new keys grows neither the map nor the
// messages without end.
const maxPending = 20_000

// maxMessageKeys is the most keys one message carries, well under NATS's
// default 1 MB payload.
const maxMessageKeys = 5_000

// OpenStream creates the stream of spends with replicas copies, unless it
// exists (then it is left as it is). It is kept on file, though small and
// short-lived: a memory stream would be gone after a NATS restart, and the
// replicas' followers of it would stall.
func OpenStream(ctx context.Context, js jetstream.JetStream, replicas int) error {
	_, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name:      StreamName,
		Subjects:  []string{"ratelimit.>"},
		Storage:   jetstream.FileStorage,
		Retention: jetstream.LimitsPolicy,
		MaxAge:    streamMaxAge,
		MaxBytes:  256 << 20,
		Discard:   jetstream.DiscardOld,
		Replicas:  max(1, replicas),
	})
	if err != nil && !errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		return fmt.Errorf("create stream %s: %w", StreamName, err)
	}
	return nil
}

// share is what one replica spent per key during one interval.
type share struct {
	From  string         `json:"from"`
	Spent map[string]int `json:"spent"`
}

// Sharing is a Keyed's sharing of its spends with the other replicas.
type Sharing struct {
	k       *Keyed
	js      jetstream.JetStream
	subject string
	id      string
	cons    jetstream.ConsumeContext
	done    chan struct{}
	end     chan struct{}
	log     *slog.Logger
}

// Share makes k one budget with every other replica's Keyed shared on the
// same subject of the stream OpenStream made: every interval, each
// publishes what it spent per key since the last time, and charges its own
// buckets with what the others spent, less what has refilled since. On
// start it reads the spends of the last bucket window, so a replica that
// starts knows the budget spent so far. No request waits for NATS. The
// price is an overshoot: what a client spends at the other replicas within
// one interval (and NATS's delivery after it) is not known here yet, so
// across N replicas a client gets at most its budget plus what it sends
// to the other N-1 in one interval. While NATS is unreachable each
// replica limits on its own.
func (k *Keyed) Share(ctx context.Context, js jetstream.JetStream, subject string, interval time.Duration, logger *slog.Logger) (*Sharing, error) {
	s := &Sharing{k: k, js: js, subject: subject, id: nuid.Next(), done: make(chan struct{}), end: make(chan struct{}), log: logger}
	since := k.now().Add(-k.Window())
	cons, err := js.OrderedConsumer(ctx, StreamName, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{subject},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		return nil, fmt.Errorf("share rate limits on %s: %w", subject, err)
	}
	k.mu.Lock()
	k.pending = map[string]int{}
	k.mu.Unlock()
	if s.cons, err = cons.Consume(s.receive); err != nil {
		return nil, fmt.Errorf("share rate limits on %s: %w", subject, err)
	}
	go s.run(interval)
	return s, nil
}

func (s *Sharing) receive(m jetstream.Msg) {
	var sh share
	if err := json.Unmarshal(m.Data(), &sh); err != nil {
		s.log.Warn("rate limit share not understood", "subject", s.subject, "err", err)
		return
	}
	at := s.k.now()
	if meta, err := m.Metadata(); err == nil {
		at = meta.Timestamp
	}
	if sh.From != s.id {
		s.k.charge(sh.Spent, at)
	}
}

func (s *Sharing) run(interval time.Duration) {
	defer close(s.end)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			s.flush()
			return
		case <-tick.C:
			s.flush()
		}
	}
}

// flush publishes what was spent since the last flush, without waiting for
// the stream's acknowledgement: a lost share only widens the overshoot.
func (s *Sharing) flush() {
	s.k.mu.Lock()
	spent := s.k.pending
	s.k.pending = map[string]int{}
	s.k.mu.Unlock()
	msg := share{From: s.id, Spent: map[string]int{}}
	send := func() {
		data, err := json.Marshal(msg)
		if err == nil {
			_, err = s.js.PublishAsync(s.subject, data)
		}
		if err != nil {
			s.log.Warn("rate limit spends not shared; each replica limits on its own meanwhile", "subject", s.subject, "err", err)
		}
		clear(msg.Spent)
	}
	for key, n := range spent {
		msg.Spent[key] = n
		if len(msg.Spent) == maxMessageKeys {
			send()
		}
	}
	if len(msg.Spent) > 0 {
		send()
	}
}

// Stop shares what is left and stops sharing. Following the stream stops
// in the background: while NATS recovers it can take seconds, and nothing
// is lost by not waiting (the connection is drained next).
func (s *Sharing) Stop(ctx context.Context) error {
	close(s.done)
	select {
	case <-s.end:
	case <-ctx.Done():
		return ctx.Err()
	}
	go s.cons.Stop()
	return nil
}
