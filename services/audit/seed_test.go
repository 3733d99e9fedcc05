package main

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go/jetstream"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
	"github.com/supportdesk/supportdesk/services/audit/internal/postgres"
	"github.com/supportdesk/supportdesk/services/audit/internal/storetest"
)

// pgEnv is the environment of a command keeping the log in a PostgreSQL
// database of the test's own.
func pgEnv(t *testing.T) (map[string]string, *postgres.Store) {
	t.Helper()
	url := pgtest.NewDatabase(t)
	env := map[string]string{"AUDIT_DATABASE_URL": url, "SECRET_KEY": testSecret}
	if err := postgres.Migrations.Up(url); err != nil {
		t.Fatal(err)
	}
	pool, err := pgdb.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return env, postgres.New(pool)
}

func runCommand(t *testing.T, env map[string]string, args ...string) string {
	t.Helper()
	var out syncBuffer
	if err := run(context.Background(), args, func(k string) string { return env[k] }, &out); err != nil {
		t.Fatalf("audit %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// TestSeed writes a synthetic log and reads it back: the count asked for,
// mostly API calls, spread over the days asked for, each a valid entry.
func TestSeed(t *testing.T) {
	env, store := pgEnv(t)
	out := runCommand(t, env, "seed", "--events=2500", "--span=48h", "--users=50")
	if !regexp.MustCompile(`seed: 2500 entries in \S+ \(\d+/s\)`).MatchString(out) {
		t.Errorf("seed printed %q", out)
	}
	ctx := context.Background()
	now := time.Now()
	list := func(q audit.Query) audit.Listing {
		q.CountUpTo = 10_000
		l, err := store.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	all := list(audit.Query{})
	calls := list(audit.Query{Log: audit.CallEntries})
	actions := list(audit.Query{Log: audit.ActionEntries, Since: now.Add(-49 * time.Hour)})
	if all.Total != 2500 || calls.Total < 1800 || calls.Total > 2200 || actions.Total < 300 {
		t.Errorf("%d entries, %d calls, %d ticket actions; want 2500, about 2000, hundreds", all.Total, calls.Total, actions.Total)
	}
	old := list(audit.Query{Until: now.Add(-48*time.Hour - time.Minute)})
	if old.Total != 0 {
		t.Errorf("%d entries older than --span", old.Total)
	}
	users := map[string]bool{}
	for _, e := range calls.Entries {
		users[e.ActorID] = true
	}
	if len(users) < 40 || len(users) > 51 { // 50 users, and anonymous logins
		t.Errorf("calls by %d distinct actors, want about 50", len(users))
	}
	st, err := audit.NewService(store, time.Now).Stats(ctx, 24)
	if err != nil || st.Calls < 800 || st.LatencyP50 == nil || *st.LatencyP50 < 0.005 || *st.LatencyP50 > 0.05 {
		t.Errorf("stats of the last day = %+v p50 %v (err %v); want about 1000 calls around 15 ms", st.Counts, st.LatencyP50, err)
	}
}

// TestImport copies a MongoDB log (FerretDB here, as an older `make run`
// kept it) into PostgreSQL, twice: the second run finds everything there.
func TestImport(t *testing.T) {
	uri := mongotest.Start(t)
	client, err := mongo.Connect(options.Client().ApplyURI(uri))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	src := mongostore.New(client.Database("old_logs"))
	storetest.Seed(t, src)

	env, dst := pgEnv(t)
	for _, want := range []string{"16 read, 16 stored, 0 already stored", "16 read, 0 stored, 16 already stored"} {
		out := runCommand(t, env, "import", "--from="+uri, "--database=old_logs")
		if !strings.Contains(out, fmt.Sprintf("import from %s: %s", uri, want)) {
			t.Errorf("import printed %q, want %q", out, want)
		}
	}
	q := audit.Query{Limit: 100}
	a, err := src.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	b, err := dst.List(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a.Entries, b.Entries, cmp.Transformer("json", func(raw []byte) string { return string(raw) })); len(a.Entries) != 16 || diff != "" {
		t.Errorf("imported entries (-source +copy):\n%s", diff)
	}
}

// TestSeedPublishesTheSameEvents: with --publish the seed puts on the stream
// the events it would have stored, with the same --seed and --at.
func TestSeedPublishesTheSameEvents(t *testing.T) {
	natsURL := natstest.Start(t)
	ctx := context.Background()
	nc, js, err := bus.Connect(natsURL, "seed-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stream, err := bus.EnsureStream(ctx, js, bus.DefaultStream())
	if err != nil {
		t.Fatal(err)
	}
	env, store := pgEnv(t)
	env["NATS_URL"] = natsURL
	at := "2026-03-14T15:00:00Z"
	out := runCommand(t, env, "seed", "--events=300", "--seed=9", "--at="+at, "--publish")
	if !strings.Contains(out, "seed: 300 events published") {
		t.Errorf("seed --publish printed %q", out)
	}
	runCommand(t, env, "seed", "--events=300", "--seed=9", "--at="+at)

	info, err := stream.Info(ctx)
	if err != nil || info.State.Msgs != 300 {
		t.Fatalf("stream holds %d messages (err %v), want 300", info.State.Msgs, err)
	}
	cons, err := stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := store.List(ctx, audit.Query{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for _, e := range stored.Entries {
		ids[e.EventID] = true
	}
	for range 300 {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		if !ids[ev.ID] {
			t.Fatalf("published %s was not seeded into the store", ev.ID)
		}
	}
}
