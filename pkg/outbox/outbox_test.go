package outbox_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

var migrations = pgdb.Migrations{Table: "test_schema_migrations", FS: fstest.MapFS{
	"1_outbox.up.sql": {Data: []byte(`
CREATE SCHEMA svc;
CREATE TABLE svc.things (id int PRIMARY KEY);
CREATE TABLE svc.outbox (
    seq        bigserial   PRIMARY KEY,
    event_id   uuid        NOT NULL UNIQUE,
    event      jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);`)},
	"1_outbox.down.sql": {Data: []byte(`DROP SCHEMA svc CASCADE;`)},
}}

var box = outbox.New("svc.outbox")

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func event(t *testing.T, subject string) events.Event {
	t.Helper()
	ev, err := events.New(context.Background(), "/test", events.TypeTicketCreated, subject, events.Actor{}, map[string]string{"s": subject})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// insert writes a thing and its event in one transaction (box.Tx, which
// wakes the relay), committed or not.
func insert(t *testing.T, pool *pgxpool.Pool, id int, commit bool) events.Event {
	t.Helper()
	ctx := context.Background()
	ev := event(t, "thing")
	errRollBack := errors.New("roll back")
	err := box.Tx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO svc.things VALUES ($1)", id); err != nil {
			return err
		}
		if err := box.Add(ctx, tx, ev); err != nil {
			return err
		}
		if !commit {
			return errRollBack
		}
		return nil
	})
	if err != nil && (commit || !errors.Is(err, errRollBack)) {
		t.Fatal(err)
	}
	return ev
}

// flakyPublisher fails the first failures calls, then records what it publishes.
type flakyPublisher struct {
	mu       sync.Mutex
	failures int
	got      []string
	next     outbox.Publisher
}

func (p *flakyPublisher) Publish(ctx context.Context, ev events.Event) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.failures > 0 {
		p.failures--
		return errors.New("bus down")
	}
	if p.next != nil {
		if err := p.next.Publish(ctx, ev); err != nil {
			return err
		}
	}
	p.got = append(p.got, ev.ID)
	return nil
}

func (p *flakyPublisher) published() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// eventStream starts a JetStream server of the test's own with the
// system's event stream.
func eventStream(t *testing.T) (jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	nc, js, err := bus.Connect(natstest.Start(t), "outbox-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	stream, err := bus.EnsureStream(context.Background(), js, bus.DefaultStream())
	if err != nil {
		t.Fatal(err)
	}
	return js, stream
}

func TestRelayPublishesCommittedEventsOnlyInOrder(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	js, stream := eventStream(t)
	ctx, cancel := context.WithCancel(context.Background())

	// The first publish fails: the row must stay and be retried.
	pub := &flakyPublisher{failures: 1, next: bus.NewPublisher(js)}
	// A long poll interval proves that the commit, not polling, wakes the relay.
	relay := outbox.NewRelay(box, pool, pub, outbox.RelayConfig{PollInterval: time.Hour, RetryDelay: 20 * time.Millisecond}, quiet())
	done := make(chan error)
	go func() { done <- relay.Run(ctx) }()

	var want []string
	for i := range 5 {
		want = append(want, insert(t, pool, i, true).ID)
	}
	insert(t, pool, 99, false) // rolled back: never published

	waitFor(t, "5 events published", func() bool { return len(pub.published()) == 5 })
	reg := prometheus.NewRegistry()
	relay.RegisterMetrics(reg)
	if n := metric(t, reg, "outbox_publish_failures_total"); n != 1 {
		t.Errorf("outbox_publish_failures_total = %v, want the one failure", n)
	}
	if got := pub.published(); !equal(got, want) {
		t.Errorf("published %v, want %v in commit order", got, want)
	}
	waitFor(t, "empty outbox", func() bool {
		n, err := relay.Backlog(ctx)
		return err == nil && n == 0
	})
	info, err := stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 5 {
		t.Errorf("stream holds %d messages, want 5", info.State.Msgs)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("relay did not stop")
	}
}

// TestRelayPublishesBatchesInOrder runs the relay with the bus's own
// publisher, which sends a claimed batch at once and waits for the acks.
func TestRelayPublishesBatchesInOrder(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	js, stream := eventStream(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var want []string
	for i := range 120 {
		want = append(want, insert(t, pool, i, true).ID)
	}
	relay := outbox.NewRelay(box, pool, bus.NewPublisher(js), outbox.RelayConfig{BatchSize: 50}, quiet())
	go func() { _ = relay.Run(ctx) }()
	waitFor(t, "empty outbox", func() bool {
		n, err := relay.Backlog(ctx)
		return err == nil && n == 0
	})
	for i, id := range want {
		msg, err := stream.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if msg.Header.Get("Nats-Msg-Id") != id {
			t.Fatalf("message %d is event %s, want %s: commit order lost", i+1, msg.Header.Get("Nats-Msg-Id"), id)
		}
	}
}

// hangingPublisher never answers its first publish (a bus that took the
// message and lost the ack, say): the call returns only when its context
// ends (or, for a test to fail rather than hang, after 15 s). Later
// publishes are recorded.
type hangingPublisher struct {
	flakyPublisher
	hung atomic.Bool
}

func (p *hangingPublisher) Publish(ctx context.Context, ev events.Event) error {
	if p.hung.CompareAndSwap(false, true) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(15 * time.Second): // past waitFor's bound: a relay without a timeout fails the test, not hangs it
			return errors.New("no answer")
		}
	}
	return p.flakyPublisher.Publish(ctx, ev)
}

// TestRelayBoundsAPublish: a publish that never gets its answer fails after
// the batch timeout, and the row goes again, instead of holding the relay
// (and the rows it locked) forever.
func TestRelayBoundsAPublish(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := &hangingPublisher{}
	relay := outbox.NewRelay(box, pool, pub, outbox.RelayConfig{
		PollInterval: time.Hour, RetryDelay: 20 * time.Millisecond, BatchTimeout: 200 * time.Millisecond}, quiet())
	go relay.Run(ctx) //nolint:errcheck
	ev := insert(t, pool, 1, true)
	waitFor(t, "the row published on the second try", func() bool { return len(pub.published()) == 1 })
	if got := pub.published(); got[0] != ev.ID {
		t.Errorf("published %v, want %s", got, ev.ID)
	}
	reg := prometheus.NewRegistry()
	relay.RegisterMetrics(reg)
	if n := metric(t, reg, "outbox_publish_failures_total"); n != 1 {
		t.Errorf("outbox_publish_failures_total = %v, want the timed-out publish", n)
	}
}

// TestRelayBoundsAStalledClaim: while the outbox cannot be read (here
// another transaction holds a lock on the table), the relay's claim gives
// up at the batch timeout, so the relay still stops when asked.
func TestRelayBoundsAStalledClaim(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	insert(t, pool, 1, true)
	release := pgtest.Lock(t, pool, "LOCK TABLE svc.outbox IN ACCESS EXCLUSIVE MODE")

	ctx, cancel := context.WithCancel(context.Background())
	relay := outbox.NewRelay(box, pool, &flakyPublisher{}, outbox.RelayConfig{PollInterval: time.Hour, BatchTimeout: 200 * time.Millisecond}, quiet())
	done := make(chan error, 1)
	go func() { done <- relay.Run(ctx) }()
	time.Sleep(100 * time.Millisecond) // the relay is waiting for the lock
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the relay did not stop while its claim waited on a lock")
		release() // let it go, so that the test ends
		<-done
	}
}

// batchSizes is a BatchPublisher that publishes nothing and records the
// size of each batch.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) Publish(context.Context, events.Event) error { return nil }

func (b *batchSizes) PublishBatch(_ context.Context, evs []events.Event) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sizes = append(b.sizes, len(evs))
	return len(evs), nil
}

func (b *batchSizes) seen() []int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.sizes)
}

// TestRelayLingers: rows committed one by one, shortly after one another,
// go out as one batch when the relay lingers after a wake-up.
func TestRelayLingers(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := &batchSizes{}
	relay := outbox.NewRelay(box, pool, pub, outbox.RelayConfig{PollInterval: time.Hour, Linger: 2 * time.Second}, quiet())
	go func() { _ = relay.Run(ctx) }()
	time.Sleep(500 * time.Millisecond) // the relay's first, empty drain is done
	for i := range 3 {
		insert(t, pool, i, true)
		time.Sleep(100 * time.Millisecond)
	}
	waitFor(t, "the 3 rows published", func() bool {
		n := 0
		for _, size := range pub.seen() {
			n += size
		}
		return n == 3
	})
	// One batch; two if the relay's first, empty look at the outbox was
	// slow enough to meet the first row.
	if got := pub.seen(); len(got) > 2 {
		t.Errorf("batches %v, want the 3 rows gathered by the linger", got)
	}
}

func TestRelayPollsWithoutWakeUp(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// A row written behind the relay's back (another process), with no wake-up.
	ev := event(t, "quiet")
	pgtest.Exec(t, pool, "INSERT INTO svc.outbox (event_id, event) VALUES ($1, $2)", ev.ID, ev)

	pub := &flakyPublisher{}
	relay := outbox.NewRelay(box, pool, pub, outbox.RelayConfig{PollInterval: 50 * time.Millisecond}, quiet())
	go relay.Run(ctx) //nolint:errcheck
	waitFor(t, "polled event", func() bool { return len(pub.published()) == 1 })
}

// A commit outside Tx does not wake the relay (it waits for the poll); Tx's
// commit does, and a rolled-back Tx publishes nothing.
func TestTxWakesTheRelayAfterCommit(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pub := &flakyPublisher{}
	relay := outbox.NewRelay(box, pool, pub, outbox.RelayConfig{PollInterval: time.Hour}, quiet())
	go relay.Run(ctx) //nolint:errcheck

	time.Sleep(300 * time.Millisecond) // the relay's first, empty drain is done
	unannounced := event(t, "no wake-up")
	pgtest.Exec(t, pool, "INSERT INTO svc.outbox (event_id, event) VALUES ($1, $2)", unannounced.ID, unannounced)
	insert(t, pool, 1, false)
	time.Sleep(300 * time.Millisecond)
	if got := pub.published(); len(got) != 0 {
		t.Fatalf("published %v before any committed Tx", got)
	}
	woken := insert(t, pool, 2, true)
	waitFor(t, "both rows published", func() bool { return len(pub.published()) == 2 })
	if got := pub.published(); got[0] != unannounced.ID || got[1] != woken.ID {
		t.Errorf("published %v, want %s then %s", got, unannounced.ID, woken.ID)
	}
}

func TestTwoRelaysShareOneOutbox(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 200 {
		insert(t, pool, i, true)
	}
	a, b := &flakyPublisher{}, &flakyPublisher{}
	cfg := outbox.RelayConfig{BatchSize: 7, PollInterval: 20 * time.Millisecond}
	go outbox.NewRelay(box, pool, a, cfg, quiet()).Run(ctx) //nolint:errcheck
	go outbox.NewRelay(box, pool, b, cfg, quiet()).Run(ctx) //nolint:errcheck
	waitFor(t, "200 events", func() bool { return len(a.published())+len(b.published()) >= 200 })
	time.Sleep(100 * time.Millisecond) // let a double publish, if any, happen
	seen := map[string]int{}
	for _, id := range append(a.published(), b.published()...) {
		seen[id]++
	}
	if len(seen) != 200 {
		t.Errorf("%d distinct events published, want 200", len(seen))
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("event %s published %d times", id, n)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestBacklogMetric(t *testing.T) {
	pool, _ := pgtest.New(t, migrations)
	insert(t, pool, 1, true)
	insert(t, pool, 2, true)
	reg := prometheus.NewRegistry()
	outbox.NewRelay(box, pool, &flakyPublisher{}, outbox.RelayConfig{}, quiet()).RegisterMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) != 2 || metric(t, reg, "outbox_backlog_events") != 2 || metric(t, reg, "outbox_publish_failures_total") != 0 {
		t.Errorf("metrics = %v, want a backlog of 2 and no failure", mfs)
	}
}

// metric reads a counter or gauge from reg.
func metric(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			return m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
