package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

// rig is a real JetStream (embedded) and a real FerretDB behind the audit
// domain, as the service wires them.
type rig struct {
	ctx   context.Context
	js    jetstream.JetStream
	pub   *bus.Publisher
	db    *mongo.Database
	store *mongostore.Store
	svc   *audit.Service
	logs  *syncBuffer
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	tb.Cleanup(cancel)
	nc, js, err := bus.Connect(natstest.Start(tb), "consumer-test")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(nc.Close)
	if _, err := bus.EnsureStream(ctx, js, bus.DefaultStream()); err != nil {
		tb.Fatal(err)
	}
	client, err := mongo.Connect(options.Client().ApplyURI(mongotest.Start(tb)).SetServerSelectionTimeout(10 * time.Second))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	db := client.Database(mongotest.Database(tb))
	store := mongostore.New(db)
	if err := store.EnsureIndexes(ctx); err != nil {
		tb.Fatal(err)
	}
	r := &rig{ctx: ctx, js: js, pub: bus.NewPublisher(js), db: db, store: store, svc: audit.NewService(store, time.Now), logs: &syncBuffer{}}
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("log:\n%s", r.logs)
		}
	})
	return r
}

// consume runs the durable audit consumer until the test ends.
func (r *rig) consume(tb testing.TB) {
	tb.Helper()
	logger := slog.New(slog.NewJSONHandler(r.logs, nil))
	cons, err := bus.ConsumeBatch(r.ctx, r.js, consumer.Config(consumer.DefaultBatch), consumer.Handler(r.svc), consumer.DeadLetter(r.svc), logger)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cons.Stop(ctx)
	})
}

func (r *rig) count(tb testing.TB, coll string, filter bson.D) int64 {
	tb.Helper()
	n, err := r.db.Collection(coll).CountDocuments(r.ctx, filter)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// ticketEvent is a fresh support.ticket.created.v1 event of ticket id.
func ticketEvent(tb testing.TB, id int64) events.Event {
	tb.Helper()
	ev, err := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, fmt.Sprintf("REQ%06d", id),
		events.Actor{ID: "42", Role: "user"}, events.TicketCreated{After: events.Ticket{ID: id, Status: "new"}})
	if err != nil {
		tb.Fatal(err)
	}
	return ev
}

// publishRaw publishes an encoded event (or anything) under its own message
// id, so that the stream keeps it even when the event id was seen.
func (r *rig) publishRaw(tb testing.TB, subject string, v any, msgID string) {
	tb.Helper()
	data, ok := v.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(v); err != nil {
			tb.Fatal(err)
		}
	}
	if _, err := r.js.Publish(r.ctx, subject, data, jetstream.WithMsgID(msgID)); err != nil {
		tb.Fatal(err)
	}
}

// settled waits until the durable consumer has delivered n messages of the
// stream and none is pending or unacknowledged, then returns its state.
func (r *rig) settled(tb testing.TB, n uint64) *jetstream.ConsumerInfo {
	tb.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := r.js.Consumer(r.ctx, bus.StreamName, consumer.Durable)
		if err != nil {
			tb.Fatal(err)
		}
		ci, err := c.Info(r.ctx)
		if err != nil {
			tb.Fatal(err)
		}
		if ci.Delivered.Stream >= n && ci.NumPending == 0 && ci.NumAckPending == 0 {
			return ci
		}
		if time.Now().After(deadline) {
			tb.Fatalf("consumer not settled: %d of %d delivered, %d pending, %d unacknowledged",
				ci.Delivered.Stream, n, ci.NumPending, ci.NumAckPending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConsumerEndsEachMessageOnce publishes every kind of message the
// consumer must handle and checks where each ended: stored once, or
// dead-lettered with its reason and terminated; none left to redeliver.
func TestConsumerEndsEachMessageOnce(t *testing.T) {
	r := newRig(t)

	stored := ticketEvent(t, 1)
	if err := r.pub.Publish(r.ctx, stored); err != nil {
		t.Fatal(err)
	}
	// The same event again under another message id: what a redelivery
	// after a lost ack looks like to the handler.
	r.publishRaw(t, stored.Topic(), stored, "copy-of-"+stored.ID)
	// An event stored already, as if a delivery stored it and died before
	// its ack: the next delivery is acked without a second document.
	already := ticketEvent(t, 2)
	if _, err := r.svc.Record(r.ctx, already); err != nil {
		t.Fatal(err)
	}
	if err := r.pub.Publish(r.ctx, already); err != nil {
		t.Fatal(err)
	}
	call, err := events.New(context.Background(), events.SourceGateway, events.TypeAPIRequest, "/user_request/my", events.Actor{ID: "42", Role: "user"},
		events.APIRequest{Method: "GET", Route: "/user_request/my", Path: "/user_request/my", StatusCode: 200, ProcessTime: 0.01})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.pub.Publish(r.ctx, call); err != nil {
		t.Fatal(err)
	}
	// Messages that can never be stored.
	r.publishRaw(t, "support.ticket.created", []byte("not a CloudEvent \xff"), "junk")
	arrayData := ticketEvent(t, 3)
	arrayData.Data = json.RawMessage(`[1,2]`)
	r.publishRaw(t, arrayData.Topic(), arrayData, arrayData.ID)
	badCall := call
	badCall.ID = "bad-call"
	badCall.Data = json.RawMessage(`{"method":"GET","status_code":0}`)
	r.publishRaw(t, badCall.Topic(), badCall, badCall.ID)

	r.consume(t)
	ci := r.settled(t, 7)

	if ci.NumRedelivered != 0 {
		t.Errorf("%d messages redelivered, want none: each ends at its first delivery", ci.NumRedelivered)
	}
	if n := r.count(t, mongostore.EventsCollection, bson.D{}); n != 3 {
		t.Errorf("%d documents, want 3 (two ticket events and one API call)", n)
	}
	for _, id := range []string{stored.ID, already.ID, call.ID} {
		if n := r.count(t, mongostore.EventsCollection, bson.D{{Key: "_id", Value: id}}); n != 1 {
			t.Errorf("%d documents of %s, want 1", n, id)
		}
	}
	cur, err := r.db.Collection(mongostore.DeadLettersCollection).Find(r.ctx, bson.D{}, options.Find().SetSort(bson.D{{Key: "event_id", Value: 1}}))
	if err != nil {
		t.Fatal(err)
	}
	var dead []struct {
		Subject string `bson:"subject"`
		Reason  string `bson:"reason"`
		EventID string `bson:"event_id"`
		Data    string `bson:"data"`
	}
	if err := cur.All(r.ctx, &dead); err != nil {
		t.Fatal(err)
	}
	type letter struct{ EventID, Subject, Reason string }
	var got []letter
	for _, d := range dead {
		reason := "other"
		switch {
		case strings.Contains(d.Reason, "decode event"):
			reason = "undecodable"
		case strings.Contains(d.Reason, "not a JSON object"):
			reason = "data not an object"
		case strings.Contains(d.Reason, "status code 0"):
			reason = "not an API call"
		}
		got = append(got, letter{d.EventID, d.Subject, reason})
	}
	want := []letter{
		{"", "support.ticket.created", "undecodable"},
		{arrayData.ID, "support.ticket.created", "data not an object"},
		{"bad-call", "support.api.request", "not an API call"},
	}
	byID := cmpopts.SortSlices(func(a, b letter) bool { return a.EventID < b.EventID })
	if diff := cmp.Diff(want, got, byID); diff != "" {
		t.Errorf("dead letters (-want +got):\n%s\n%+v", diff, dead)
	}
}

// TestReplay rebuilds an empty store from the stream, then replays again:
// nothing is stored twice.
func TestReplay(t *testing.T) {
	r := newRig(t)
	before := make([]events.Event, 3)
	for i := range before {
		before[i] = ticketEvent(t, int64(i+1))
		if err := r.pub.Publish(r.ctx, before[i]); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(20 * time.Millisecond) // stream times are the server's clock, the same machine's
	mark := time.Now()
	time.Sleep(20 * time.Millisecond)
	const n = 5
	for i := range n {
		if err := r.pub.Publish(r.ctx, ticketEvent(t, int64(10+i))); err != nil {
			t.Fatal(err)
		}
	}
	r.publishRaw(t, "support.ticket.created", []byte("junk"), "junk")

	res, err := consumer.Replay(r.ctx, r.js, bus.StreamName, mark, r.svc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(consumer.ReplayResult{Read: n + 1, Stored: n, Invalid: 1}, res); diff != "" {
		t.Errorf("first replay (-want +got):\n%s", diff)
	}
	if got := r.count(t, mongostore.EventsCollection, bson.D{}); got != n {
		t.Errorf("%d documents after replay, want %d", got, n)
	}

	res, err = consumer.Replay(r.ctx, r.js, bus.StreamName, mark, r.svc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(consumer.ReplayResult{Read: n + 1, Existing: n, Invalid: 1}, res); diff != "" {
		t.Errorf("second replay (-want +got):\n%s", diff)
	}

	res, err = consumer.Replay(r.ctx, r.js, bus.StreamName, mark.Add(-time.Hour), r.svc)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(consumer.ReplayResult{Read: 3 + n + 1, Stored: 3, Existing: n, Invalid: 1}, res); diff != "" {
		t.Errorf("replay of everything (-want +got):\n%s", diff)
	}
	if got := r.count(t, mongostore.EventsCollection, bson.D{}); got != 3+n {
		t.Errorf("%d documents, want %d", got, 3+n)
	}

	// Nothing to replay: it returns at once.
	start := time.Now()
	res, err = consumer.Replay(r.ctx, r.js, bus.StreamName, time.Now().Add(time.Hour), r.svc)
	if err != nil || res != (consumer.ReplayResult{}) {
		t.Errorf("replay of the future = %+v, %v", res, err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("an empty replay took %v", took)
	}
	// The ephemeral consumers are gone; the stream's consumers are untouched.
	stream, err := r.js.Stream(r.ctx, bus.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	names := stream.ConsumerNames(r.ctx)
	var left []string
	for name := range names.Name() {
		left = append(left, name)
	}
	if len(left) != 0 {
		t.Errorf("consumers left behind: %v", left)
	}
}

// TestConsumerConfigUpdatesAnOlderDurable checks that a deployment whose
// durable consumer was created with the bus's default MaxDeliver (50) takes
// the new limit at the next start, rather than failing to start.
func TestConsumerConfigUpdatesAnOlderDurable(t *testing.T) {
	r := newRig(t)
	old, err := bus.ConsumeBatch(r.ctx, r.js, bus.ConsumerConfig{Durable: consumer.Durable, FilterSubject: events.SubjectAll},
		consumer.Handler(r.svc), consumer.DeadLetter(r.svc), slog.New(slog.NewJSONHandler(r.logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := old.Stop(r.ctx); err != nil {
		t.Fatal(err)
	}
	r.consume(t)
	c, err := r.js.Consumer(r.ctx, bus.StreamName, consumer.Durable)
	if err != nil {
		t.Fatal(err)
	}
	ci, err := c.Info(r.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ci.Config.MaxDeliver != consumer.MaxDeliver || ci.Config.AckWait != consumer.AckWait {
		t.Errorf("durable MaxDeliver %d, AckWait %v; want %d, %v", ci.Config.MaxDeliver, ci.Config.AckWait, consumer.MaxDeliver, consumer.AckWait)
	}
}
