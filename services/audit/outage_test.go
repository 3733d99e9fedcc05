package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

// TestRunWaitsOutAMongoOutage stops the store under the running service,
// publishes, and starts the store again on the same port and files: the
// messages wait (nak with delay) and are then stored, each exactly once,
// and none is dead-lettered.
func TestRunWaitsOutAMongoOutage(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv, err := mongotest.StartServer(t, dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() }) // srv is replaced on restart
	natsURL := natstest.Start(t)
	// Short server selection and heartbeats, so that a message fails fast
	// while the store is down and the driver finds it soon once it is up.
	mongoURL := "mongodb://" + addr + "/?serverSelectionTimeoutMS=500&heartbeatFrequencyMS=500"
	env := testEnv(t, natsURL, mongoURL)
	svc := startService(t, env)
	db := connectDB(t, mongoURL, env["MONGODB_DATABASE"])
	pub := publisher(t, natsURL)
	ctx := context.Background()

	countEvents := func(filter bson.D) (int64, error) {
		return db.Collection(mongostore.EventsCollection).CountDocuments(ctx, filter)
	}
	first := ticketCreated(t, 1, "42")
	publish(t, pub, first)
	eventually(t, 30*time.Second, func() string {
		if n, err := countEvents(bson.D{}); err != nil || n != 1 {
			return fmt.Sprintf("%d events stored before the outage (err %v)", n, err)
		}
		return ""
	})

	if err := srv.Stop(); err != nil {
		t.Logf("stop FerretDB: %v", err) // an interrupted process may report its signal
	}
	const k = 5
	ids := make([]string, k)
	for i := range k {
		ev := ticketCreated(t, int64(10+i), "42")
		ids[i] = ev.ID
		publish(t, pub, ev)
	}
	// Every message fails at least once against the stopped store and is
	// put back with a delay rather than given up.
	retry := regexp.MustCompile(`"msg":"event handling failed; will retry"[^\n]*"event_id":"([^"]+)"`)
	eventually(t, 30*time.Second, func() string {
		failed := map[string]bool{}
		for _, m := range retry.FindAllStringSubmatch(svc.logs.String(), -1) {
			failed[m[1]] = true
		}
		for _, id := range ids {
			if !failed[id] {
				return fmt.Sprintf("event %s has not failed yet (%d of %d have)", id, len(failed), k)
			}
		}
		return ""
	})

	srv, err = mongotest.StartServer(t, dir, addr)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 60*time.Second, func() string {
		n, err := countEvents(bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids}}}})
		if err != nil || n != k {
			return fmt.Sprintf("%d of the %d events published during the outage stored (err %v)", n, k, err)
		}
		return ""
	})
	// Settled: nothing pending or unacknowledged, exactly 1+k documents,
	// and no dead letter.
	nc, js, err := bus.Connect(natsURL, "outage-check")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	eventually(t, 30*time.Second, func() string {
		c, err := js.Consumer(ctx, bus.StreamName, consumer.Durable)
		if err != nil {
			return err.Error()
		}
		ci, err := c.Info(ctx)
		if err != nil {
			return err.Error()
		}
		if ci.NumPending != 0 || ci.NumAckPending != 0 {
			return fmt.Sprintf("consumer: %d pending, %d unacknowledged", ci.NumPending, ci.NumAckPending)
		}
		return ""
	})
	if n, err := countEvents(bson.D{}); err != nil || n != 1+k {
		t.Errorf("%d documents (err %v), want exactly %d", n, err, 1+k)
	}
	if n, err := db.Collection(mongostore.DeadLettersCollection).CountDocuments(ctx, bson.D{}); err != nil || n != 0 {
		t.Errorf("%d dead letters (err %v), want none", n, err)
	}
	if strings.Contains(svc.logs.String(), `"msg":"event terminated"`) {
		t.Error("a message was terminated during the outage")
	}
	svc.stop(t)
}

// TestReplayRebuildsTheStore drops the stored events under a stopped
// service and rebuilds them with `audit replay`, twice: the second run finds
// every event already there.
func TestReplayRebuildsTheStore(t *testing.T) {
	natsURL, mongoURL := natstest.Start(t), mongotest.Start(t)
	env := testEnv(t, natsURL, mongoURL)
	svc := startService(t, env)
	db := connectDB(t, mongoURL, env["MONGODB_DATABASE"])
	ctx := context.Background()

	const n = 4
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = ticketCreated(t, int64(i+1), "42")
	}
	publish(t, publisher(t, natsURL), evs...)
	eventually(t, 30*time.Second, func() string {
		if c, err := db.Collection(mongostore.EventsCollection).CountDocuments(ctx, bson.D{}); err != nil || c != n {
			return fmt.Sprintf("%d of %d stored (err %v)", c, n, err)
		}
		return ""
	})
	svc.stop(t)
	if err := db.Collection(mongostore.EventsCollection).Drop(ctx); err != nil {
		t.Fatal(err)
	}

	summary := regexp.MustCompile(`(?m)^replay since \S+: (\d+) read, (\d+) stored, (\d+) already stored, (\d+) invalid$`)
	for _, tt := range []struct {
		since string
		want  string // read, stored, already stored, invalid
	}{
		{"1h", fmt.Sprintf("%d %d 0 0", n, n)},
		{time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), fmt.Sprintf("%d 0 %d 0", n, n)},
	} {
		var out syncBuffer
		if err := run(ctx, []string{"replay", "--since=" + tt.since}, func(k string) string { return env[k] }, &out); err != nil {
			t.Fatalf("replay --since=%s: %v\n%s", tt.since, err, out.String())
		}
		m := summary.FindStringSubmatch(out.String())
		if m == nil {
			t.Fatalf("replay --since=%s printed no summary:\n%s", tt.since, out.String())
		}
		if got := strings.Join(m[1:], " "); got != tt.want {
			t.Errorf("replay --since=%s: read, stored, already stored, invalid = %s; want %s", tt.since, got, tt.want)
		}
		if c, err := db.Collection(mongostore.EventsCollection).CountDocuments(ctx, bson.D{}); err != nil || c != n {
			t.Errorf("after replay --since=%s: %d documents (err %v), want %d", tt.since, c, err, n)
		}
	}
	// The replay put the indexes back with the documents.
	specs, err := db.Collection(mongostore.EventsCollection).Indexes().ListSpecifications(ctx)
	if err != nil || len(specs) < 2 {
		t.Errorf("indexes after replay: %d (err %v)", len(specs), err)
	}
}
