//go:build chaos

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/supportdesk/supportdesk/pkg/mongotest"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
)

// chaosUpstreamTimeout is the gateway's UPSTREAM_TIMEOUT in the chaos
// suite; no answer may take much longer.
const chaosUpstreamTimeout = 2 * time.Second

// chaosFault is one fault: inject breaks something and returns the repair.
type chaosFault struct {
	name   string
	inject func() (repair func())
}

// TestChaos runs steady ticket creation and status changes through the
// gateway and injects one fault after another into instances of the test's
// own (a PostgreSQL cluster made with initdb, an embedded NATS server, a
// FerretDB server and the services). After each fault and its repair,
// every event committed in PostgreSQL is in the audit store and every
// request answered is in the API log, exactly once; during the fault the
// API answers 503 or 504 problem+json, and never hangs. It prints a table
// of the faults. Run it with `make test-chaos`.
func TestChaos(t *testing.T) {
	cluster := pgtest.StartCluster(t)
	databaseURL := cluster.NewDatabase(t, "chaos")
	natsDir := t.TempDir()
	nats := natstest.StartServerOn(t, natsDir, server.RANDOM_PORT)
	natsPort := natstest.Port(nats)
	store, err := mongotest.StartServer(t, t.TempDir(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Stop() })

	s := startSystemOn(t, databaseURL, nats.ClientURL(),
		"MONGODB_URL="+store.URI, "UPSTREAM_TIMEOUT="+chaosUpstreamTimeout.String(),
		"RATE_LIMIT_CLIENT_PER_MINUTE=1000000", "RATE_LIMIT_USER_PER_MINUTE=1000000")
	client, err := mongo.Connect(options.Client().ApplyURI(store.URI).SetServerSelectionTimeout(5 * time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Disconnect(context.Background()) })
	c := &chaos{s: s, databaseURL: databaseURL, store: client}
	c.recordCommits()
	c.user = s.login("user@company.com", "SecureUserPass123!")
	c.admin = s.login(adminEmail, adminPassword)

	faults := []chaosFault{
		{"none (baseline)", func() func() { return func() {} }},
		{"NATS restarted", func() func() {
			nats.Shutdown()
			nats.WaitForShutdown()
			return func() {
				time.Sleep(3 * time.Second)
				nats = natstest.StartServerOn(t, natsDir, natsPort)
			}
		}},
		{"audit killed (SIGKILL), restarted", func() func() {
			s.kill("audit")
			return func() {
				time.Sleep(3 * time.Second)
				s.restart("audit")
			}
		}},
		{"MongoDB-wire store stopped 10 s", func() func() {
			if err := store.Stop(); err != nil {
				t.Logf("stop the store: %v", err)
			}
			return func() {
				time.Sleep(10 * time.Second)
				var err error
				if store, err = mongotest.StartServer(t, store.Dir, store.Addr); err != nil {
					t.Fatalf("start the store again: %v", err)
				}
			}
		}},
		{"PostgreSQL restarted", func() func() {
			if err := cluster.Stop(); err != nil {
				t.Fatal(err)
			}
			return func() {
				time.Sleep(3 * time.Second)
				if err := cluster.Start(); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{"outbox relay (tickets) SIGKILLed mid-batch", func() func() {
			c.killRelayMidBatch()
			return func() { s.restart("tickets") }
		}},
		{"tickets frozen (SIGSTOP) 6 s", func() func() {
			p := s.procs["tickets"].cmd.Process
			if err := p.Signal(syscall.SIGSTOP); err != nil {
				t.Fatal(err)
			}
			return func() {
				time.Sleep(6 * time.Second)
				_ = p.Signal(syscall.SIGCONT)
			}
		}},
	}
	// CHAOS_FAULTS, a comma-separated list of words, runs only the faults
	// whose names hold one of them.
	if only := os.Getenv("CHAOS_FAULTS"); only != "" {
		faults = slices.DeleteFunc(faults, func(f chaosFault) bool {
			return !slices.ContainsFunc(strings.Split(only, ","), func(w string) bool { return strings.Contains(f.name, w) })
		})
	}
	t.Cleanup(func() {
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(store.Dir, "ferretdb.log"))
			t.Logf("---- ferretdb log ----\n%s", tail(string(log), 40))
		}
	})
	var rows []chaosRow
	for _, f := range faults {
		rows = append(rows, c.phase(f))
		if t.Failed() {
			break
		}
	}
	t.Log("\n" + chaosTable(rows))

	// The services stop while their infrastructure still runs, as in an
	// orderly shutdown, and each must stop cleanly after all it went
	// through. (The test's cleanups stop the last NATS server first.)
	for _, svc := range []string{"gateway", "webhooks", "audit", "tickets", "auth"} {
		if err := s.stop(svc); err != nil {
			t.Errorf("%s did not stop cleanly after the faults: %v", svc, err)
		}
	}
}

// chaos is the state of the chaos suite.
type chaos struct {
	s           *system
	databaseURL string
	user, admin string        // access tokens
	phases      int           // phases run, which number the request ids
	store       *mongo.Client // to the audit store
}

// chaosAuditDatabase is the audit store's database (MONGODB_DATABASE).
const chaosAuditDatabase = "audit_e2e"

// chaosRow is one line of the table.
type chaosRow struct {
	fault                       string
	sent, accepted, refused     int
	committed, audited          int
	duplicates, lost            int
	recovery, caughtUp, slowest time.Duration
}

// Phase timing.
const (
	chaosBefore   = 3 * time.Second   // load before the fault
	chaosAfter    = 8 * time.Second   // load after the repair: past the breaker's 5 s
	chaosCatchUp  = 120 * time.Second // for the audit log to hold everything
	chaosWorkers  = 4
	chaosThinking = 40 * time.Millisecond // between a worker's requests
)

// recordCommits installs triggers that note the id of every event inserted
// into an outbox, in the inserting transaction: what is noted was
// committed, whether or not the relay published it before the row went.
func (c *chaos) recordCommits() {
	c.exec(`
CREATE SCHEMA chaos;
CREATE TABLE chaos.committed (seq bigserial PRIMARY KEY, event_id text NOT NULL);
CREATE FUNCTION chaos.note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO chaos.committed (event_id) VALUES (NEW.event_id::text);
	RETURN NEW;
END $$;
CREATE TRIGGER chaos_note AFTER INSERT ON tickets.outbox FOR EACH ROW EXECUTE FUNCTION chaos.note();
CREATE TRIGGER chaos_note AFTER INSERT ON auth.outbox FOR EACH ROW EXECUTE FUNCTION chaos.note();`)
}

// withConn runs f on a connection of its own to the system's database,
// within 30 s.
func (c *chaos) withConn(f func(ctx context.Context, conn *pgx.Conn)) {
	c.s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.databaseURL)
	if err != nil {
		c.s.t.Fatal(err)
	}
	defer conn.Close(ctx)
	f(ctx, conn)
}

func (c *chaos) exec(sql string, args ...any) {
	c.s.t.Helper()
	c.withConn(func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			c.s.t.Fatal(err)
		}
	})
}

// killRelayMidBatch kills the tickets service while its outbox relay is
// between publishing a batch and deleting it: a trigger holds the relay's
// DELETE for a second, and the kill waits until one is held. The batch
// was published and stays in the outbox, so the next relay publishes it
// again; nothing may be doubled in the audit log.
func (c *chaos) killRelayMidBatch() {
	c.exec(`
CREATE FUNCTION chaos.hold() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	PERFORM pg_sleep(1);
	RETURN NULL;
END $$;
CREATE TRIGGER chaos_hold BEFORE DELETE ON tickets.outbox FOR EACH STATEMENT EXECUTE FUNCTION chaos.hold();`)
	c.withConn(func(ctx context.Context, conn *pgx.Conn) {
		c.s.waitFor("the relay deleting a published batch", 10*time.Second, func() bool {
			var held int
			err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE state = 'active' AND query LIKE 'DELETE FROM tickets.outbox%'`).Scan(&held)
			return err == nil && held > 0
		})
	})
	c.s.kill("tickets")
	c.exec(`DROP TRIGGER chaos_hold ON tickets.outbox; DROP FUNCTION chaos.hold()`)
}

// committedSince returns the ids of the events committed after seq, and
// the last seq.
func (c *chaos) committedSince(seq int64) (ids []string, last int64) {
	c.s.t.Helper()
	last = seq
	c.withConn(func(ctx context.Context, conn *pgx.Conn) {
		rows, err := conn.Query(ctx, `SELECT seq, event_id FROM chaos.committed WHERE seq > $1 ORDER BY seq`, seq)
		if err != nil {
			c.s.t.Fatal(err)
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&last, &id); err != nil {
				c.s.t.Fatal(err)
			}
			ids = append(ids, id)
		}
		if err := rows.Err(); err != nil {
			c.s.t.Fatal(err)
		}
	})
	return ids, last
}

// outcome is one request of the load.
type outcome struct {
	id       string
	status   int
	problem  bool // answered application/problem+json
	took     time.Duration
	at       time.Time
	errText  string // no answer at all
	endpoint string
}

// load runs the workers until stop closes: each creates a ticket as the
// user, then moves it to in_progress and to completed as the admin,
// leaving a ticket at its first refused request.
func (c *chaos) load(phase int, stop <-chan struct{}) []outcome {
	client := &http.Client{Timeout: chaosUpstreamTimeout + 10*time.Second}
	var mu sync.Mutex
	var all []outcome
	var wg sync.WaitGroup
	for w := range chaosWorkers {
		wg.Go(func() {
			n := 0
			send := func(method, path, bearer, body string) (outcome, []byte) {
				n++
				o := outcome{id: fmt.Sprintf("chaos-%d-%d-%06d", phase, w, n), endpoint: method + " " + path, at: time.Now()}
				req, _ := http.NewRequest(method, c.s.baseURL+path, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+bearer)
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("X-Request-Id", o.id)
				resp, err := client.Do(req)
				o.took = time.Since(o.at)
				var answer []byte
				if err != nil {
					o.errText = err.Error()
				} else {
					answer, _ = io.ReadAll(resp.Body)
					resp.Body.Close()
					o.status = resp.StatusCode
					o.problem = resp.Header.Get("Content-Type") == "application/problem+json"
				}
				mu.Lock()
				all = append(all, o)
				mu.Unlock()
				return o, answer
			}
			for {
				select {
				case <-stop:
					return
				case <-time.After(chaosThinking):
				}
				o, body := send("POST", "/user_request/", c.user, `{"text":"chaos ticket"}`)
				if o.status != http.StatusCreated {
					continue
				}
				var created struct {
					DisplayID string `json:"display_id"`
				}
				if err := json.Unmarshal(body, &created); err != nil || created.DisplayID == "" {
					continue
				}
				id := created.DisplayID
				for _, status := range []string{"in_progress", "completed"} {
					time.Sleep(chaosThinking)
					if o, _ := send("PUT", "/staff/requests/"+id+"/status", c.admin, `{"status":"`+status+`"}`); o.status != http.StatusOK {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	return all
}

// phase runs the load, injects the fault, repairs it, runs the load on, and
// then waits until the audit log holds every committed event and every
// answered request of the phase.
func (c *chaos) phase(f chaosFault) chaosRow {
	t := c.s.t
	t.Helper()
	_, seq := c.committedSince(-1)
	stop := make(chan struct{})
	done := make(chan []outcome)
	c.phases++
	go func() { done <- c.load(c.phases, stop) }()

	time.Sleep(chaosBefore)
	t.Logf("%s: injecting", f.name)
	repair := f.inject()
	repair()
	repaired := time.Now()
	time.Sleep(chaosAfter)
	close(stop)
	outcomes := <-done
	loadEnded := time.Now()
	t.Logf("%s: repaired; load ended after %d requests", f.name, len(outcomes))

	row := chaosRow{fault: f.name}
	answered := map[string]bool{}
	var firstAccepted time.Time
	for _, o := range outcomes {
		row.sent++
		row.slowest = max(row.slowest, o.took)
		switch {
		case o.errText != "":
			t.Errorf("%s: %s %s got no answer after %v: %s", f.name, o.endpoint, o.id, o.took, o.errText)
			continue
		case o.status >= 200 && o.status < 300:
			row.accepted++
			if end := o.at.Add(o.took); o.at.After(repaired) && (firstAccepted.IsZero() || end.Before(firstAccepted)) {
				firstAccepted = end
			}
		case (o.status == 503 || o.status == 504) && o.problem:
			row.refused++
		default:
			t.Errorf("%s: %s %s = %d (problem+json %v), want 2xx, or 503/504 problem+json", f.name, o.endpoint, o.id, o.status, o.problem)
		}
		answered[o.id] = true
		if o.took > chaosUpstreamTimeout+3*time.Second {
			t.Errorf("%s: %s %s took %v: the API must answer within the upstream timeout", f.name, o.endpoint, o.id, o.took)
		}
	}
	if !firstAccepted.IsZero() {
		row.recovery = firstAccepted.Sub(repaired)
	} else {
		t.Errorf("%s: no request accepted within %v of the repair", f.name, chaosAfter)
	}
	committed, _ := c.committedSince(seq)
	row.committed = len(committed)

	// Wait for the audit log to hold everything, then count.
	var inStore map[string]bool
	var inLog map[string]int
	deadline := loadEnded.Add(chaosCatchUp)
	for {
		inStore, inLog = c.audited()
		lostEvents, lostRequests := missing(committed, inStore), missingRequests(answered, inLog)
		if lostEvents+lostRequests == 0 || time.Now().After(deadline) {
			break
		}
		t.Logf("%s: waiting for %d events and %d requests to reach the audit log", f.name, lostEvents, lostRequests)
		time.Sleep(time.Second)
	}
	row.caughtUp = time.Since(loadEnded)
	row.audited = len(committed) - missing(committed, inStore)
	row.lost = missing(committed, inStore) + missingRequests(answered, inLog)
	for id := range answered {
		if inLog[id] > 1 {
			row.duplicates++
		}
	}
	if row.lost > 0 || row.duplicates > 0 {
		t.Errorf("%s: %d lost, %d duplicated (events committed %d, audited %d; requests answered %d)",
			f.name, row.lost, row.duplicates, row.committed, row.audited, len(answered))
	}
	return row
}

func missing(ids []string, in map[string]bool) int {
	n := 0
	for _, id := range ids {
		if !in[id] {
			n++
		}
	}
	return n
}

func missingRequests(answered map[string]bool, logged map[string]int) int {
	n := 0
	for id := range answered {
		if logged[id] == 0 {
			n++
		}
	}
	return n
}

// audited reads what the audit store holds, straight from it (the log
// queries would sort and count all of it for every page): the ids of the
// events, and how many times each request id of the load is in the API
// log.
func (c *chaos) audited() (events map[string]bool, requests map[string]int) {
	t := c.s.t
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	opts := options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}, {Key: "call", Value: 1}, {Key: "data.request_id", Value: 1}})
	cur, err := c.store.Database(chaosAuditDatabase).Collection("events").Find(ctx, bson.D{}, opts)
	if err != nil {
		t.Logf("read the audit store: %v", err)
		return nil, nil
	}
	defer cur.Close(ctx)
	events, requests = map[string]bool{}, map[string]int{}
	for cur.Next(ctx) {
		var doc struct {
			ID   string `bson:"_id"`
			Call bool   `bson:"call"`
			Data struct {
				RequestID string `bson:"request_id"`
			} `bson:"data"`
		}
		if err := cur.Decode(&doc); err != nil {
			t.Fatal(err)
		}
		if !doc.Call {
			events[doc.ID] = true
		} else if strings.HasPrefix(doc.Data.RequestID, "chaos-") {
			requests[doc.Data.RequestID]++
		}
	}
	if err := cur.Err(); err != nil {
		t.Logf("read the audit store: %v", err)
		return nil, nil
	}
	return events, requests
}

// chaosTable renders the rows as a Markdown table.
func chaosTable(rows []chaosRow) string {
	var b strings.Builder
	b.WriteString("| fault | requests sent | accepted | refused (503/504) | events committed | events audited | duplicates | lost | API back after repair | audit complete after load | slowest answer |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %d | %d | %.1f s | %.1f s | %.2f s |\n",
			r.fault, r.sent, r.accepted, r.refused, r.committed, r.audited, r.duplicates, r.lost,
			r.recovery.Seconds(), r.caughtUp.Seconds(), r.slowest.Seconds())
	}
	return b.String()
}
