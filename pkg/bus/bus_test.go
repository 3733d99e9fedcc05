package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/natstest"
)

func setup(t *testing.T) (context.Context, jetstream.JetStream, jetstream.Stream) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	nc, js, err := bus.Connect(natstest.Start(t), "bus-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	cfg := bus.DefaultStream()
	s, err := bus.EnsureStream(ctx, js, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// A second call must succeed too: every service ensures the stream.
	if _, err := bus.EnsureStream(ctx, js, cfg); err != nil {
		t.Fatalf("EnsureStream is not idempotent: %v", err)
	}
	return ctx, js, s
}

func newEvent(t *testing.T, ctx context.Context, subject string) events.Event {
	t.Helper()
	ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCreated, subject, events.Actor{ID: "1", Role: "user"},
		events.TicketCreated{After: events.Ticket{ID: 1}})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestPublishDeduplicatesByEventID(t *testing.T) {
	ctx, js, s := setup(t)
	p := bus.NewPublisher(js)
	ev := newEvent(t, ctx, "REQ000001")
	for range 3 {
		if err := p.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Publish(ctx, newEvent(t, ctx, "REQ000002")); err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 2 {
		t.Errorf("stream holds %d messages, want 2", info.State.Msgs)
	}
	checkPublished(t, p, 2, 2)
}

// checkPublished checks p's counts of stored and duplicate publishes.
func checkPublished(t *testing.T, p *bus.Publisher, stored, duplicates int64) {
	t.Helper()
	if s, d := p.Counts(); s != stored || d != duplicates {
		t.Errorf("stored %d and duplicate %d publishes counted, want %d and %d", s, d, stored, duplicates)
	}
}

func TestPublishBatch(t *testing.T) {
	ctx, js, s := setup(t)
	p := bus.NewPublisher(js)
	evs := []events.Event{newEvent(t, ctx, "REQ000001"), newEvent(t, ctx, "REQ000002"), newEvent(t, ctx, "REQ000003")}
	evs = append(evs, evs[0]) // a retried event is stored once
	if n, err := p.PublishBatch(ctx, evs); n != 4 || err != nil {
		t.Fatalf("PublishBatch = %d, %v; want all 4", n, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 3 {
		t.Errorf("stream holds %d messages, want 3", info.State.Msgs)
	}
	checkPublished(t, p, 3, 1)
	for i, want := range []string{"REQ000001", "REQ000002", "REQ000003"} {
		msg, err := s.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(msg.Data), want) {
			t.Errorf("message %d is not %s's: the batch's order is lost", i+1, want)
		}
	}

	// An event the stream does not take stops the count there.
	outside := newEvent(t, ctx, "REQ000004")
	outside.Type = "elsewhere.thing.happened.v1"
	n, err := p.PublishBatch(ctx, []events.Event{newEvent(t, ctx, "REQ000005"), outside, newEvent(t, ctx, "REQ000006")})
	if n != 1 || err == nil {
		t.Errorf("PublishBatch with an unroutable event = %d, %v; want 1 and its error", n, err)
	}
}

// TestPublishBatchEndsWithItsContext: a publish nobody acknowledges (here
// a plain subscriber takes the message, so the stream never answers) fails
// when the caller's context ends.
func TestPublishBatchEndsWithItsContext(t *testing.T) {
	ctx, js, _ := setup(t)
	silent := newEvent(t, ctx, "REQ000001")
	silent.Type = "elsewhere.thing.happened.v1"
	sub, err := js.Conn().SubscribeSync(silent.Topic())
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe() //nolint:errcheck
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	n, err := bus.NewPublisher(js).PublishBatch(short, []events.Event{silent})
	if n != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("PublishBatch without an ack = %d, %v; want 0 and the context's deadline", n, err)
	}
	if _, err := sub.NextMsg(time.Second); err != nil {
		t.Errorf("the subscriber got no message (%v): the test did not publish", err)
	}
}

type recorder struct {
	mu      sync.Mutex
	calls   map[string]int
	handled chan events.Event
	dead    chan string
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, handled: make(chan events.Event, 10), dead: make(chan string, 10)}
}

func (r *recorder) deadLetter(_ context.Context, msg jetstream.Msg, ev events.Event, reason error) error {
	r.dead <- msg.Subject() + ": " + reason.Error()
	return nil
}

func TestConsumeOutcomes(t *testing.T) {
	ctx, js, _ := setup(t)
	p := bus.NewPublisher(js)

	tid, _ := trace.TraceIDFromHex("0af7651916cd43dd8448eb211c80319c")
	sid, _ := trace.SpanIDFromHex("b7ad6b7169203331")
	traced := trace.ContextWithSpanContext(ctx, trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled}))

	ok := newEvent(t, traced, "ok")
	flaky := newEvent(t, ctx, "flaky")
	bad := newEvent(t, ctx, "bad")

	rec := newRecorder()
	var traceSeen trace.TraceID
	handler := func(ctx context.Context, ev events.Event) error {
		rec.mu.Lock()
		rec.calls[ev.Subject]++
		n := rec.calls[ev.Subject]
		if ev.Subject == "ok" {
			traceSeen = trace.SpanContextFromContext(ctx).TraceID()
		}
		rec.mu.Unlock()
		switch {
		case ev.Subject == "flaky" && n < 3:
			return errors.New("store down")
		case ev.Subject == "bad":
			return bus.Permanent(errors.New("invalid payload"))
		}
		rec.handled <- ev
		return nil
	}
	c, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "test", FilterSubject: "support.>", MaxDelay: 200 * time.Millisecond},
		handler, rec.deadLetter, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })

	for _, ev := range []events.Event{ok, flaky, bad} {
		if err := p.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, "support.junk.thing", []byte("not a cloudevent")); err != nil {
		t.Fatal(err)
	}

	got := map[string]bool{}
	var deadReasons []string
	for len(got) < 2 || len(deadReasons) < 2 {
		select {
		case ev := <-rec.handled:
			got[ev.Subject] = true
		case reason := <-rec.dead:
			deadReasons = append(deadReasons, reason)
		case <-ctx.Done():
			t.Fatalf("timed out: handled %v, dead %v", got, deadReasons)
		}
	}
	if !got["ok"] || !got["flaky"] {
		t.Errorf("handled %v, want ok and flaky", got)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.calls["flaky"] != 3 {
		t.Errorf("flaky handled %d times, want 3 (two naks then an ack)", rec.calls["flaky"])
	}
	if rec.calls["bad"] != 1 {
		t.Errorf("permanent failure handled %d times, want 1", rec.calls["bad"])
	}
	if traceSeen != tid {
		t.Errorf("handler trace id = %s, want %s", traceSeen, tid)
	}
	if len(deadReasons) != 2 {
		t.Errorf("dead letters %v, want the permanent failure and the junk message", deadReasons)
	}
}

// TestHandlerHasAckWait: a handler stuck on its store gets a context that
// ends at AckWait, when the server redelivers the message anyway, and the
// message goes again.
func TestHandlerHasAckWait(t *testing.T) {
	ctx, js, _ := setup(t)
	const ackWait = 500 * time.Millisecond
	ended := make(chan time.Duration, 1) // how long the stuck first call waited
	handled := make(chan string, 1)
	var calls atomic.Int32
	handler := func(hctx context.Context, ev events.Event) error {
		if calls.Add(1) > 1 {
			select {
			case handled <- ev.Subject:
			default: // a later redelivery
			}
			return nil
		}
		start := time.Now()
		select {
		case <-hctx.Done():
			ended <- time.Since(start)
			return hctx.Err()
		case <-time.After(10 * time.Second): // no deadline: fail the test, do not hang it
			ended <- time.Since(start)
			return errors.New("stuck")
		}
	}
	c, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "test", FilterSubject: "support.>", AckWait: ackWait, MaxDelay: 100 * time.Millisecond},
		handler, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if err := bus.NewPublisher(js).Publish(ctx, newEvent(t, ctx, "REQ000001")); err != nil {
		t.Fatal(err)
	}
	if waited := <-ended; waited > 5*time.Second {
		t.Errorf("the stuck handler waited %s: its context had no deadline (AckWait %s)", waited, ackWait)
	}
	select {
	case <-handled:
	case <-ctx.Done():
		t.Fatal("the message was not handled again after the stuck call")
	}
}

func TestLastDeliveryIsTerminated(t *testing.T) {
	ctx, js, _ := setup(t)
	rec := newRecorder()
	calls := 0
	c, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "give-up", FilterSubject: "support.>", MaxDeliver: 2, MaxDelay: 50 * time.Millisecond},
		func(context.Context, events.Event) error { calls++; return errors.New("always down") }, rec.deadLetter, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if err := bus.NewPublisher(js).Publish(ctx, newEvent(t, ctx, "x")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.dead:
	case <-ctx.Done():
		t.Fatal("the message was never dead-lettered")
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("handler ran %d times, want MaxDeliver=2", calls)
	}

	reg := prometheus.NewRegistry()
	c.RegisterMetrics(reg)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	want := map[string]float64{
		"consumer_pending_messages": 0, "consumer_unacked_messages": 0, // nothing left once terminated
		"consumer_dead_letters_total": 1, "consumer_redeliveries_total": 1, "consumer_errors_total": 0,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}
}

func TestApplierTerminatesInvalidEvents(t *testing.T) {
	invalid := bus.Applier(func(context.Context, events.Event) error {
		return fault.New(fault.Invalid, "bad", "never applies")
	})
	if err := invalid(context.Background(), events.Event{}); !bus.IsPermanent(err) {
		t.Errorf("Invalid fault = %v, want permanent", err)
	}
	transient := bus.Applier(func(context.Context, events.Event) error { return errors.New("db down") })
	if err := transient(context.Background(), events.Event{}); err == nil || bus.IsPermanent(err) {
		t.Errorf("plain error = %v, want a retryable error", err)
	}
}

func TestBatchApplierTerminatesOnlyInvalidEvents(t *testing.T) {
	apply := bus.BatchApplier(func(context.Context, []events.Event) []error {
		return []error{nil, fault.New(fault.Invalid, "bad", "never applies"), errors.New("db down")}
	})
	errs := apply(context.Background(), make([]events.Event, 3))
	if errs[0] != nil || !bus.IsPermanent(errs[1]) || errs[2] == nil || bus.IsPermanent(errs[2]) {
		t.Errorf("outcomes = %v, want ok, permanent, retryable", errs)
	}
}

func TestOpenCreatesAMissingStream(t *testing.T) {
	ctx := context.Background()
	url := natstest.Start(t)
	cfg := bus.DefaultStream()
	cfg.MaxAge = 72 * time.Hour
	nc, js, drift, err := bus.Open(ctx, url, "open-test", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	s, err := js.Stream(ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config; got.MaxAge != 72*time.Hour || got.Subjects[0] != events.SubjectAll || got.Replicas != 1 || drift != "" {
		t.Errorf("stream config = %+v, drift %q", got, drift)
	}

	// A service started with other settings leaves the stream as it is,
	// and says how it differs.
	cfg.MaxAge = 48 * time.Hour
	nc2, js2, drift, err := bus.Open(ctx, url, "open-test-2", cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer nc2.Close()
	if s, err = js2.Stream(ctx, bus.StreamName); err != nil || s.CachedInfo().Config.MaxAge != 72*time.Hour {
		t.Errorf("a second service changed the stream: %v %+v", err, s.CachedInfo().Config)
	}
	if !strings.Contains(drift, "72h0m0s") || !strings.Contains(drift, "48h0m0s") {
		t.Errorf("drift = %q, want both max ages", drift)
	}

	// The operator's step applies the settings.
	if _, err := bus.EnsureStream(ctx, js2, cfg); err != nil {
		t.Fatal(err)
	}
	if s, err = js2.Stream(ctx, bus.StreamName); err != nil || s.CachedInfo().Config.MaxAge != 48*time.Hour {
		t.Errorf("EnsureStream did not apply the max age: %v %+v", err, s.CachedInfo().Config)
	}
}

// TestDeadLetterIsRetriedOnTheLastDelivery: the server does not redeliver
// past MaxDeliver, so a dead letter that fails once must be retried, not
// handed back to a redelivery that will never come.
func TestDeadLetterIsRetriedOnTheLastDelivery(t *testing.T) {
	ctx, js, _ := setup(t)
	var mu sync.Mutex
	failures := 2
	stored := make(chan string, 1)
	dead := func(_ context.Context, msg jetstream.Msg, ev events.Event, reason error) error {
		mu.Lock()
		defer mu.Unlock()
		if failures > 0 {
			failures--
			return errors.New("dead-letter store down")
		}
		stored <- ev.Subject
		return nil
	}
	c, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "last", FilterSubject: "support.>", MaxDeliver: 1, MaxDelay: 50 * time.Millisecond},
		func(context.Context, events.Event) error { return errors.New("store down") }, dead, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	if err := bus.NewPublisher(js).Publish(ctx, newEvent(t, ctx, "last-chance")); err != nil {
		t.Fatal(err)
	}
	select {
	case subject := <-stored:
		if subject != "last-chance" {
			t.Errorf("dead letter for %q", subject)
		}
	case <-ctx.Done():
		t.Fatal("the message was lost: no dead letter after its only delivery")
	}
}

// TestConsumeBatchSettlesEachMessage: a backlog is handled in batches, a
// batch never exceeds BatchSize, and each message of a batch ends on its
// own outcome: the permanent failure alone is dead-lettered, the transient
// one alone is redelivered, the rest are acked once.
func TestConsumeBatchSettlesEachMessage(t *testing.T) {
	ctx, js, _ := setup(t)
	p := bus.NewPublisher(js)
	const n = 40
	for i := range n {
		if err := p.Publish(ctx, newEvent(t, ctx, fmt.Sprintf("ev-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	calls := map[string]int{}
	var sizes []int
	acked := make(chan string, 2*n)
	handler := func(_ context.Context, evs []events.Event) []error {
		mu.Lock()
		defer mu.Unlock()
		sizes = append(sizes, len(evs))
		errs := make([]error, len(evs))
		for i, ev := range evs {
			calls[ev.Subject]++
			switch {
			case ev.Subject == "ev-07":
				errs[i] = bus.Permanent(errors.New("never stores"))
			case ev.Subject == "ev-13" && calls[ev.Subject] == 1:
				errs[i] = errors.New("store busy")
			default:
				acked <- ev.Subject
			}
		}
		return errs
	}
	rec := newRecorder()
	c, err := bus.ConsumeBatch(ctx, js, bus.ConsumerConfig{Durable: "batch", FilterSubject: "support.>", MaxDelay: 100 * time.Millisecond, BatchSize: 16},
		handler, rec.deadLetter, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })

	done := map[string]bool{}
	for len(done) < n-1 {
		select {
		case s := <-acked:
			if done[s] {
				t.Errorf("%s acked twice", s)
			}
			done[s] = true
		case <-ctx.Done():
			t.Fatalf("timed out with %d of %d handled", len(done), n-1)
		}
	}
	select {
	case reason := <-rec.dead:
		if !strings.Contains(reason, "never stores") {
			t.Errorf("dead letter %q", reason)
		}
	case <-ctx.Done():
		t.Fatal("no dead letter")
	}
	if err := c.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	biggest := 0
	for _, s := range sizes {
		biggest = max(biggest, s)
	}
	if biggest < 2 || biggest > 16 {
		t.Errorf("batch sizes %v: want a backlog in batches of 2 to 16", sizes)
	}
	if calls["ev-13"] != 2 || calls["ev-07"] != 1 || calls["ev-00"] != 1 {
		t.Errorf("calls: ev-13 %d (want 2), ev-07 %d (want 1), ev-00 %d (want 1)", calls["ev-13"], calls["ev-07"], calls["ev-00"])
	}
	ci, err := c.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.NumPending != 0 || ci.NumAckPending != 0 {
		t.Errorf("consumer left %d pending, %d unacknowledged", ci.NumPending, ci.NumAckPending)
	}
}

// TestConsumeBatchWorkers: with two workers, a batch is handled while the
// previous one still is.
func TestConsumeBatchWorkers(t *testing.T) {
	ctx, js, _ := setup(t)
	p := bus.NewPublisher(js)
	for i := range 30 {
		if err := p.Publish(ctx, newEvent(t, ctx, fmt.Sprintf("w-%02d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	calls := 0
	second := make(chan struct{})
	handled := make(chan int, 100)
	handler := func(_ context.Context, evs []events.Event) []error {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		switch n {
		case 1:
			// Held until a second batch is in hand: only a second worker
			// can take it.
			select {
			case <-second:
			case <-time.After(10 * time.Second):
				t.Error("the second batch did not start while the first was in hand")
			}
		case 2:
			close(second)
		}
		handled <- len(evs)
		return make([]error, len(evs))
	}
	c, err := bus.ConsumeBatch(ctx, js, bus.ConsumerConfig{Durable: "workers", FilterSubject: "support.>", BatchSize: 5, Workers: 2},
		handler, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	for total := 0; total < 30; {
		select {
		case n := <-handled:
			total += n
		case <-ctx.Done():
			t.Fatalf("%d of 30 handled", total)
		}
	}
}

// TestLingerGathersABatch: events published one by one, a little apart,
// reach the handler as one batch when the consumer lingers.
func TestLingerGathersABatch(t *testing.T) {
	ctx, js, _ := setup(t)
	sizes := make(chan int, 10)
	c, err := bus.ConsumeBatch(ctx, js, bus.ConsumerConfig{Durable: "linger", FilterSubject: "support.>", BatchSize: 10, Linger: 2 * time.Second},
		func(_ context.Context, evs []events.Event) []error {
			sizes <- len(evs)
			return make([]error, len(evs))
		}, nil, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	p := bus.NewPublisher(js)
	for i := range 3 {
		if err := p.Publish(ctx, newEvent(t, ctx, fmt.Sprint("REQ00000", i))); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	select {
	case n := <-sizes:
		if n != 3 {
			t.Errorf("first batch holds %d events, want the 3 published within the linger", n)
		}
	case <-ctx.Done():
		t.Fatal("no batch")
	}
}

// TestDrain: a connection drains and closes; one whose server is gone is
// closed without an error, since it has nothing it could still deliver.
func TestDrain(t *testing.T) {
	srv := natstest.StartServer(t, t.TempDir())
	up, _, err := bus.Connect(srv.ClientURL(), "drain-up")
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Drain(context.Background(), up); err != nil || !up.IsClosed() {
		t.Errorf("drain = %v, closed %v", err, up.IsClosed())
	}

	orphan, _, err := bus.Connect(srv.ClientURL(), "drain-orphan")
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	deadline := time.Now().Add(5 * time.Second)
	for !orphan.IsReconnecting() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bus.Drain(ctx, orphan); err != nil || !orphan.IsClosed() {
		t.Errorf("drain with the server gone = %v, closed %v; want nil and closed", err, orphan.IsClosed())
	}
}
