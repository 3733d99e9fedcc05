package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go/jetstream"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/supportdesk/supportdesk/pkg/cputime"
)

// The ticket scenarios share one fixture: seedUsers accounts with their
// access tokens, and seedTickets tickets spread over them.
const (
	seedUsers   = 1000
	seedTickets = 100_000
)

// account is a user of the fixture: its id, an access token and the ids of
// some of its tickets.
type account struct {
	id      int64
	token   string
	tickets []int64
}

// fixture is what the ticket scenarios work with.
type fixture struct {
	users []account
	admin string // an admin's access token
}

// pick returns a random user and one of its tickets.
func (f *fixture) pick(r *rand.Rand) (account, int64) {
	for {
		u := f.users[r.IntN(len(f.users))]
		if len(u.tickets) > 0 {
			return u, u.tickets[r.IntN(len(u.tickets))]
		}
	}
}

// newFixture registers and logs in seedUsers users through the gateway
// (their directory entries reach the tickets service by their events), then
// writes seedTickets tickets for them straight into the tickets schema, as
// a long-lived help desk would hold. The seeded tickets have no events: the
// audit log starts after them.
func newFixture(ctx context.Context, st *stack) (*fixture, error) {
	start := time.Now()
	gw := st.gateway()
	f := &fixture{users: make([]account, seedUsers)}
	var err error
	if f.admin, _, err = login(gw, benchAdmin, benchPassword); err != nil {
		return nil, err
	}
	run := time.Now().UnixNano()
	var mu sync.Mutex
	var firstErr error
	work := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range work {
				email := fmt.Sprintf("u%04d-%d@bench.example", i, run)
				err := call("POST", gw+"/auth/register", "", map[string]string{"email": email, "password": benchPassword}, nil, 201)
				if err == nil {
					f.users[i].token, f.users[i].id, err = login(gw, email, benchPassword)
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range seedUsers {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, fmt.Errorf("register the fixture's users: %w", firstErr)
	}

	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		return nil, err
	}
	defer pool.Close()
	ids := make([]int64, len(f.users))
	for i, u := range f.users {
		ids[i] = u.id
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets.users WHERE id = ANY($1)`, ids).Scan(&n); err != nil {
			return nil, err
		}
		if n == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d users reached the tickets directory", n, len(ids))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var staff int64
	if err := pool.QueryRow(ctx, `SELECT id FROM tickets.users WHERE role = 'staff' ORDER BY id LIMIT 1`).Scan(&staff); err != nil {
		return nil, fmt.Errorf("the staff member: %w", err)
	}
	if err := insertTickets(ctx, pool, ids, staff, seedTickets); err != nil {
		return nil, err
	}
	rows, err := pool.Query(ctx, `SELECT owner_id, (array_agg(id ORDER BY id))[1:20] FROM tickets.requests WHERE owner_id = ANY($1) GROUP BY owner_id`, ids)
	if err != nil {
		return nil, err
	}
	byOwner := map[int64][]int64{}
	var owner int64
	var tickets []int64
	if _, err := pgx.ForEachRow(rows, []any{&owner, &tickets}, func() error {
		byOwner[owner] = append([]int64(nil), tickets...)
		return nil
	}); err != nil {
		return nil, err
	}
	for i := range f.users {
		f.users[i].tickets = byOwner[f.users[i].id]
	}
	logf("fixture: %d users registered and logged in, %d tickets written, in %v", seedUsers, seedTickets, time.Since(start).Round(time.Second))
	return f, nil
}

// vocabulary are the words of the fixture's ticket texts: each text holds
// textWords of them, picked by a hash of the ticket's number, so that a
// search for two of them matches about two thousand tickets in a million,
// as a desk's varied texts would (one shared sentence would match them
// all).
var vocabulary = strings.Fields(`
account adapter alarm antivirus archive audio backup badge battery bios bluetooth boot browser cable
calendar camera certificate charger chrome cloud cluster codec compiler contract cooling cpu crash
credentials cursor dashboard database deadline debugger desk desktop dialog dictionary disk display
dns docking domain download driver dropbox email encryption error ethernet excel export extension fan
fax file firewall firmware folder font freeze gateway graphics headset heating helpdesk hotspot hub
icon import inbox installer interface invoice ipad iphone java kernel keyboard keychain label lamp
laptop latency license lock login macro mailbox malware memory microphone modem monitor mouse network
notebook office outlook password patch payroll pdf permission phone pin plugin portal power presenter
printer privacy profile projector proxy quota radio raid recovery refund registry reminder remote
report restart router scanner schedule screen script sensor server session settings sharepoint
shortcut signature slack smartcard socket software speaker spreadsheet sql storage subscription
switch sync tablet teams terminal thermostat timeout token toner touchpad trackpad tray update upload
usb vendor video vpn wallpaper webcam wifi window wireless word workstation zoom`)

// textWords is how many vocabulary words a fixture ticket's text holds.
const textWords = 8

// insertTickets writes n tickets spread evenly over owners, half of them
// assigned to staff, in every status and priority, created over the last
// year, with texts of vocabulary words, in one statement.
func insertTickets(ctx context.Context, pool *pgxpool.Pool, owners []int64, staff int64, n int) error {
	_, err := pool.Exec(ctx, `
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, created_at, updated_at)
SELECT ($1::bigint[])[1 + i % cardinality($1::bigint[])],
       CASE WHEN i % 2 = 0 THEN $2::bigint END,
       'Ticket ' || i,
       (SELECT string_agg(($4::text[])[1 + abs(hashtext(i || '.' || k)) % cardinality($4::text[])], ' ')
        FROM generate_series(1, $5::int) AS k) || '; ticket ' || i,
       (ARRAY['new', 'in_progress', 'completed', 'closed'])[1 + i % 4],
       (ARRAY['low', 'normal', 'high', 'urgent'])[1 + i % 4],
       (ARRAY['hardware', 'software', 'network', NULL])[1 + i % 4],
       now() - (i * interval '300 ms'),
       now() - (i * interval '200 ms')
FROM generate_series(1, $3::int) AS i`, owners, staff, n, vocabulary, textWords)
	if err != nil {
		return fmt.Errorf("insert %d tickets: %w", n, err)
	}
	// Measured on settled tables: vacuumed (the visibility map an
	// index-only scan needs), analysed, and their pages written out.
	if _, err := pool.Exec(ctx, `VACUUM ANALYZE tickets.requests`); err != nil {
		return err
	}
	_, err = pool.Exec(ctx, `CHECKPOINT`)
	return err
}

// baselineDB is a database with the tickets schema and the fixture's shape
// (seedUsers directory users, seedTickets tickets), on which pgbench runs
// the statements the service runs, with nothing else using it.
func baselineDB(ctx context.Context, st *stack) (string, error) {
	url, err := st.newDatabase(ctx)
	if err != nil {
		return "", err
	}
	if _, err := st.command(ctx, "tickets", []string{"migrate", "up"}, "DATABASE_URL="+url); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return "", err
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, `
INSERT INTO tickets.users (id, email, role, first_name, last_name, active)
SELECT i, 'u' || i || '@bench.example', CASE WHEN i = 1001 THEN 'staff' ELSE 'user' END, 'First', 'Last', true
FROM generate_series(1, 1001) AS i`); err != nil {
		return "", err
	}
	owners := make([]int64, seedUsers)
	for i := range owners {
		owners[i] = int64(i + 1)
	}
	return url, insertTickets(ctx, pool, owners, 1001, seedTickets)
}

// The statements of the service's hot paths, as pgbench scripts over
// baselineDB: a create (ticket and outbox row in one transaction), a read
// of one ticket with its owner and staff member, and a list page of 50 with
// its count.
var pgbenchScripts = map[string]string{
	"create": `\set owner random(1, 1000)
BEGIN;
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, created_at, updated_at,
 first_response_due_at, resolution_due_at, first_response_sla, resolution_sla)
VALUES (:owner, NULL, NULL, 'Printer on floor 3 jams', 'new', 'normal', NULL, now(), now(),
 now() + interval '8 hours', now() + interval '72 hours', 'pending', 'pending')
RETURNING id, owner_id, staff_id, title, text, status, priority, category, staff_comment, version, created_at, updated_at,
 first_response_at, resolved_at, first_response_due_at, resolution_due_at, first_response_sla, resolution_sla;
INSERT INTO tickets.outbox (event_id, event) VALUES (gen_random_uuid(), :event);
COMMIT;
`,
	"get": `\set id random(1, 100000)
` + viewSelect + ` WHERE r.id = :id;
`,
	"list": `\set owner random(1, 1000)
SELECT count(*) FROM (SELECT FROM tickets.requests r WHERE r.owner_id = :owner LIMIT 10001) AS matching;
` + viewSelect + ` WHERE r.owner_id = :owner ORDER BY r.created_at DESC, r.id DESC LIMIT 51 OFFSET 0;
`,
}

// viewSelect is the tickets store's read of a ticket with its owner and
// staff member (services/tickets/internal/postgres).
const viewSelect = `SELECT r.id, r.owner_id, r.staff_id, r.title, r.text, r.status, r.priority, r.category, r.staff_comment,
 r.version, r.created_at, r.updated_at, r.first_response_at, r.resolved_at,
 r.first_response_due_at, r.resolution_due_at, r.first_response_sla, r.resolution_sla,
 o.email AS owner_email, o.role AS owner_role, o.first_name AS owner_first_name,
 o.last_name AS owner_last_name, o.father_name AS owner_father_name, o.active AS owner_active,
 o.inn AS owner_inn, o.phone AS owner_phone,
 s.email AS staff_email, s.role AS staff_role, s.first_name AS staff_first_name,
 s.last_name AS staff_last_name, s.father_name AS staff_father_name, s.active AS staff_active
 FROM tickets.requests r LEFT JOIN tickets.users o ON o.id = r.owner_id LEFT JOIN tickets.users s ON s.id = r.staff_id`

// sampleEvent is a support.ticket.created.v1 as the service writes it.
const sampleEvent = `{"specversion":"1.0","id":"6f1c1d8e-8f57-4a55-9a53-3d1f7a0f2b11","source":"/services/tickets","type":"support.ticket.created.v1","subject":"REQ000001","time":"2026-11-27T10:00:00.123456Z","datacontenttype":"application/json","actorid":"42","actorrole":"user","traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","data":{"before":null,"after":{"id":1,"display_id":"REQ000001","owner_id":42,"staff_id":null,"title":null,"text":"Printer on floor 3 jams","status":"new","priority":"normal","category":null,"staff_comment":null,"version":1,"created_at":"2026-11-27T10:00:00.123456Z","updated_at":"2026-11-27T10:00:00.123456Z"}}}`

// pgbench runs the weighted scripts (name@weight) on url from clients
// connections for d and returns the transactions per second.
func pgbench(ctx context.Context, url string, clients int, d time.Duration, scripts ...string) (float64, error) {
	dir, err := os.MkdirTemp("", "pgbench-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	// The event goes as a parameter, as the service sends it.
	args := []string{"-n", "-M", "prepared", "-c", fmt.Sprint(clients), "-j", "2", "-T", fmt.Sprint(int(d.Seconds())),
		"-D", "event=" + sampleEvent}
	for _, s := range scripts {
		name, weight, _ := strings.Cut(s, "@")
		file := filepath.Join(dir, name+".sql")
		if err := os.WriteFile(file, []byte(pgbenchScripts[name]), 0o600); err != nil {
			return 0, err
		}
		if weight != "" {
			file += "@" + weight
		}
		args = append(args, "-f", file)
	}
	out, err := runCommand(ctx, "pgbench", append(args, url)...)
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(out) {
		var tps float64
		if _, err := fmt.Sscanf(line, "tps = %f (without initial connection time)", &tps); err == nil {
			return tps, nil
		}
	}
	return 0, fmt.Errorf("pgbench printed no tps:\n%s", out)
}

// rss returns the resident memory of a stack service, in MiB.
func (s *stack) rss(name string) (float64, error) {
	cmd := s.procs[name]
	if cmd == nil {
		return 0, fmt.Errorf("%s is not running", name)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		var kb float64
		if _, err := fmt.Sscanf(line, "VmRSS: %f kB", &kb); err == nil {
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for %s", name)
}

// peakRSS samples the resident memory of the named services every 20 ms
// until stop is called, which returns the highest seen of each.
func (s *stack) peakRSS(names ...string) (stop func() map[string]float64) {
	peak := map[string]float64{}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			for _, n := range names {
				if v, err := s.rss(n); err == nil && v > peak[n] {
					peak[n] = v
				}
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() map[string]float64 {
		close(done)
		wg.Wait()
		return peak
	}
}

// bearer is the header of a request as u.
func bearer(token string) http.Header {
	return http.Header{"Authorization": {"Bearer " + token}, "Content-Type": {"application/json"}}
}

// runCommand runs a program and returns what it printed.
func runCommand(ctx context.Context, name string, args ...string) (string, error) {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	return string(out), nil
}

// cpuSeconds returns the CPU time used so far by each stack service, by
// this process (the load and the JetStream server) and by PostgreSQL (all
// its processes), in seconds.
func (s *stack) cpuSeconds() map[string]float64 {
	out := map[string]float64{}
	seconds := func(pid int) float64 {
		_, cpu, _ := cputime.Of(pid) // a process gone counts nothing
		return cpu.Seconds()
	}
	for name, cmd := range s.procs {
		out[name] = seconds(cmd.Process.Pid)
	}
	out["bench (load, NATS)"] = seconds(os.Getpid())
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if command, cpu, err := cputime.Of(pid); err == nil && command == "postgres" {
			out["postgres"] += cpu.Seconds()
		}
	}
	return out
}

// coresAt sends next's requests at rate per second for 10 s and returns
// the cores each process used meanwhile; nothing for a rate of 0, which
// vegeta would take as "as fast as possible".
func (s *stack) coresAt(rate int, next vegeta.Targeter) map[string]float64 {
	if rate <= 0 {
		return nil
	}
	const d = 10 * time.Second
	before := s.cpuSeconds()
	openLoop(rate, d, next)
	return cpuShare(before, s.cpuSeconds(), d)
}

// cpuShare returns what each part used of the machine between two
// cpuSeconds readings d apart, in cores.
func cpuShare(before, after map[string]float64, d time.Duration) map[string]float64 {
	out := map[string]float64{}
	for k, v := range after {
		out[k] = float64(int((v-before[k])/d.Seconds()*100)) / 100
	}
	return out
}

// quiet waits, up to a minute, until the consumers have caught up (see
// caughtUp), so that a load step starts on a quiet system instead of on
// the previous step's backlog. Not getting there is logged; the run goes
// on.
func (s *stack) quiet(ctx context.Context) {
	if err := s.caughtUp(ctx, time.Minute); err != nil {
		logf("%v", err)
	}
}

// busyConsumers names the consumers of the events stream with messages
// pending or unacknowledged, and how many.
func busyConsumers(ctx context.Context, js jetstream.JetStream) ([]string, error) {
	stream, err := js.Stream(ctx, streamName)
	if err != nil {
		return nil, err
	}
	lister := stream.ListConsumers(ctx)
	var busy []string
	for ci := range lister.Info() {
		if n := ci.NumPending + uint64(ci.NumAckPending); n > 0 {
			busy = append(busy, fmt.Sprintf("%s: %d", ci.Name, n))
		}
	}
	return busy, lister.Err()
}

// caughtUp waits, up to within, until every consumer of the events stream
// has nothing pending or unacknowledged.
func (s *stack) caughtUp(ctx context.Context, within time.Duration) error {
	nc, js, err := s.jetStream()
	if err != nil {
		return err
	}
	defer nc.Close()
	deadline := time.Now().Add(within)
	for {
		busy, err := busyConsumers(ctx, js)
		if err == nil && len(busy) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("consumers still busy after %v: %v (%v)", within, busy, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
