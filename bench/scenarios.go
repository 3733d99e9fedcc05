package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// rounds is how many times each scenario measures itself and its baseline,
// interleaved; the figures are the medians.
const rounds = 3

// creates is a targeter of ticket creations through the gateway by the
// fixture's users in turn.
func creates(f *fixture, gw string) func() vegeta.Targeter {
	var i atomic.Int64
	return func() vegeta.Targeter {
		return func(t *vegeta.Target) error {
			n := i.Add(1)
			u := f.users[n%int64(len(f.users))]
			t.Method, t.URL = "POST", gw+"/user_request/"
			t.Body = fmt.Appendf(nil, `{"text":"Printer on floor %d jams"}`, n%12)
			t.Header = bearer(u.token)
			return nil
		}
	}
}

// rateSearch is how S1 and S2 measure, rounds times interleaved: pgbench
// running scripts on a fresh baseline database for 15 s, then the highest
// rate of next's requests, stepping through steps, whose answers (want, or
// any 2xx for 0) hold p99 within bound. around, when set, runs before each
// search and returns what to run after it, given the rate found.
type rateSearch struct {
	name    string
	steps   []int
	bound   time.Duration
	want    uint16
	scripts []string
	settle  time.Duration // after each round
	around  func(round int) (after func(rate int))
}

// searched is what a rateSearch measured, by round.
type searched struct {
	rates, dbRates []float64
	searches       []string
}

func (rs rateSearch) run(ctx context.Context, st *stack, next func() vegeta.Targeter) (searched, error) {
	var out searched
	base, err := baselineDB(ctx, st)
	if err != nil {
		return out, err
	}
	openLoop(rs.steps[0], 10*time.Second, next()) // warm-up: connections, pools, plans
	for r := range rounds {
		tps, err := pgbench(ctx, base, 32, 15*time.Second, rs.scripts...)
		if err != nil {
			return out, err
		}
		out.dbRates = append(out.dbRates, tps)
		time.Sleep(5 * time.Second)
		after := func(int) {}
		if rs.around != nil {
			after = rs.around(r)
		}
		st.quiet(ctx)
		rate, search := sustainedRate(rs.steps, 8*time.Second, rs.bound, rs.want, next, func() { st.quiet(ctx) })
		after(rate)
		out.rates = append(out.rates, float64(rate))
		out.searches = append(out.searches, strings.Join(search, "; "))
		logf("%s round %d: pgbench %.0f tx/s, gateway %d requests/s", rs.name, r+1, tps, rate)
		time.Sleep(rs.settle)
	}
	return out, nil
}

// scenario reports the median rate of the rounds against the median
// pgbench rate; it is met at target times the baseline. details, added to
// the rounds, may not be nil.
func (s searched) scenario(title, unit, baselineOf string, target float64, details map[string]any) Scenario {
	value, baseline := median(s.rates), median(s.dbRates)
	details["rounds ("+unit+")"] = s.rates
	details["rounds (pgbench tx/s)"] = s.dbRates
	details["rate searches (8 s a step)"] = s.searches
	return Scenario{
		Title: title, Value: value, Unit: unit, Baseline: baseline, BaselineOf: baselineOf,
		Ratio: value / baseline, Target: fmt.Sprintf("≥ %g × baseline", target), Met: value >= target*baseline,
		Details: details,
	}
}

// s1Create: the highest rate of ticket creations through the gateway with
// p99 ≤ 50 ms and < 0.1 % errors, the event pipeline running, against
// pgbench running the same transaction on the same PostgreSQL.
func s1Create(ctx context.Context, st *stack, f *fixture) (Scenario, error) {
	next := creates(f, st.gateway())
	var peak, cores map[string]float64
	coresAt := 0
	res, err := rateSearch{
		name:    "S1",
		steps:   []int{100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200, 1300, 1400, 1600, 1800, 2000, 2500, 3000, 4000},
		bound:   50 * time.Millisecond,
		want:    201,
		scripts: []string{"create"},
		settle:  10 * time.Second, // the audit consumer catches up
		around: func(round int) func(int) {
			stopRSS := st.peakRSS(services...)
			return func(rate int) {
				peak = stopRSS()
				if round > 0 {
					return
				}
				// Where the machine goes at the rate just past the
				// sustained one: cores by process, and profiles.
				coresAt = rate + rate/4
				var waits []func()
				for _, name := range services {
					waits = append(waits, st.profile(name, 9*time.Second, fmt.Sprintf("s1-%s-%d.pprof", name, coresAt)))
				}
				cores = st.coresAt(coresAt, next())
				for _, wait := range waits {
					wait()
				}
				time.Sleep(5 * time.Second)
			}
		},
	}.run(ctx, st, next)
	if err != nil {
		return Scenario{}, err
	}
	st.s1Peak = peak
	return res.scenario("ticket creation through the gateway: highest rate with p99 ≤ 50 ms and < 0.1 % errors, event pipeline running",
		"creates/s", "pgbench, 32 clients: the same ticket + outbox transaction (R_db)", 0.35, map[string]any{
			"peak RSS MiB during the last search":                                peak,
			fmt.Sprintf("cores used by each process at %d/s (round 1)", coresAt): cores,
		}), nil
}

// readMix is a targeter of the S2 mix by the fixture's users: 80 % one of
// their tickets, 15 % a list page of 50 of theirs, 5 % a create.
func readMix(f *fixture, gw string) func() vegeta.Targeter {
	return func() vegeta.Targeter {
		r := rand.New(rand.NewPCG(1, 2))
		return func(t *vegeta.Target) error {
			u, id := f.pick(r)
			t.Header, t.Body = bearer(u.token), nil
			switch x := r.IntN(100); {
			case x < 80:
				t.Method, t.URL = "GET", fmt.Sprintf("%s/user_request/%d", gw, id)
			case x < 95:
				t.Method, t.URL = "GET", gw+"/user_request/my?size=50"
			default:
				t.Method, t.URL = "POST", gw+"/user_request/"
				t.Body = []byte(`{"text":"Printer on floor 3 jams"}`)
			}
			return nil
		}
	}
}

// s2ReadMix: the highest rate of the read mix with p99 ≤ 30 ms, against
// pgbench running the same statements in the same mix.
func s2ReadMix(ctx context.Context, st *stack, f *fixture) (Scenario, error) {
	next := readMix(f, st.gateway())
	var cores map[string]float64
	coresAt := 0
	res, err := rateSearch{
		name:    "S2",
		steps:   []int{200, 300, 400, 500, 600, 800, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6000},
		bound:   30 * time.Millisecond,
		scripts: []string{"get@80", "list@15", "create@5"},
		settle:  5 * time.Second,
		around: func(round int) func(int) {
			var waits []func()
			if round == 0 {
				for _, name := range services {
					waits = append(waits, st.profile(name, 30*time.Second, "s2-"+name+".pprof"))
				}
				waits = append(waits, st.profileSelf(30*time.Second, "s2-bench.pprof"))
			}
			return func(rate int) {
				for _, wait := range waits {
					wait()
				}
				if round > 0 {
					return
				}
				// Where the machine goes at the sustained rate: is it
				// the cores that run out?
				coresAt = rate
				st.quiet(ctx)
				cores = st.coresAt(coresAt, next())
			}
		},
	}.run(ctx, st, next)
	if err != nil {
		return Scenario{}, err
	}
	st.s2Rate = median(res.rates)
	return res.scenario("read mix through the gateway (80 % one ticket, 15 % a list page of 50, 5 % create): highest rate with p99 ≤ 30 ms",
		"requests/s", "pgbench, 32 clients: the same statements in the same mix", 0.4, map[string]any{
			fmt.Sprintf("cores used by each process at %d/s (round 1)", coresAt): cores,
		}), nil
}

// bareProxy starts S5's baseline, a bare httputil.ReverseProxy in front of
// target, in a process of its own as the gateway is (this program run as
// `bench bare-proxy TARGET`), and returns its address; stop ends it.
func (s *stack) bareProxy(target string) (addr string, stop func() error, err error) {
	self, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(self, "bare-proxy", target)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM} // never outlives the bench
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	s.procs["bare proxy"] = cmd // its CPU is counted as a process of the stack's
	stop = func() error { return s.stop("bare proxy") }
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = stop()
		return "", nil, fmt.Errorf("bare proxy did not start: %w", err)
	}
	return strings.TrimSpace(line), stop, nil
}

// serveBareProxy is `bench bare-proxy TARGET`: a reverse proxy to target
// with the transport the gateway uses, on a free loopback port whose URL it
// writes to addr as a line, until ctx ends.
func serveBareProxy(ctx context.Context, target string, addr io.Writer) error {
	u, err := url.Parse(target)
	if err != nil {
		return err
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	proxy.Transport = transport
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: proxy, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if _, err := fmt.Fprintf(addr, "http://%s\n", ln.Addr()); err != nil {
		ln.Close()
		return err
	}
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// getTicket returns a closed-loop step that reads one ticket of a random
// fixture user from base.
func getTicket(f *fixture, base string) func(w, i int) error {
	rs := make([]*rand.Rand, 64)
	for w := range rs {
		rs[w] = rand.New(rand.NewPCG(uint64(w), 7))
	}
	return func(w, _ int) error {
		u, id := f.pick(rs[w])
		req, err := http.NewRequest("GET", fmt.Sprintf("%s/user_request/%d", base, id), nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+u.token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET ticket %d = %d", id, resp.StatusCode)
		}
		return nil
	}
}

// getTickets is an open-loop targeter of the same reads.
func getTickets(f *fixture, base string) vegeta.Targeter {
	r := rand.New(rand.NewPCG(3, 4))
	return func(t *vegeta.Target) error {
		u, id := f.pick(r)
		t.Method, t.URL, t.Header = "GET", fmt.Sprintf("%s/user_request/%d", base, id), bearer(u.token)
		return nil
	}
}

// s5Hop: what the gateway's hop costs on reading one ticket, against a bare
// reverse proxy in front of the same service and the service direct.
//
// The audit service is stopped meanwhile, as in the issue's own figures:
// storing the API log is the audit pipeline's work, off the request path
// (S1, S2 and S9 measure with it running); the gateway still publishes
// every request's event, which waits on the stream and is stored after.
func s5Hop(ctx context.Context, st *stack, f *fixture) (sc Scenario, err error) {
	if err := st.stop("audit"); err != nil {
		return Scenario{}, err
	}
	defer func() {
		if rerr := st.start(ctx, "audit"); rerr != nil && err == nil {
			err = rerr
		}
		if werr := st.caughtUp(ctx, 5*time.Minute); werr != nil && err == nil {
			err = werr
		}
	}()
	direct := st.serviceURL("tickets")
	bare, stopBare, err := st.bareProxy(direct)
	if err != nil {
		return Scenario{}, err
	}
	defer func() {
		if serr := stopBare(); serr != nil && err == nil {
			err = serr
		}
	}()
	const workers, d = 32, 10 * time.Second
	targets := []struct{ name, base string }{{"direct", direct}, {"bare proxy", bare}, {"gateway", st.gateway()}}
	rates := map[string][]float64{}
	p50 := map[string][]float64{}
	cores := map[string]map[string]float64{}                       // CPU by process in round 1
	closedLoop(workers, 5*time.Second, getTicket(f, st.gateway())) // warm-up
	for r := range rounds {
		// Each round starts one target later, so that each is measured
		// first, second and last once: on a machine whose speed drifts
		// during a round, a fixed order would favour whichever ran first.
		order := slices.Concat(targets[r%len(targets):], targets[:r%len(targets)])
		for _, t := range order {
			wait := func() {}
			if r == 0 && t.name == "gateway" {
				gw, self := st.profile("gateway", d-time.Second, "s5-gateway.pprof"), st.profileSelf(d-time.Second, "s5-bench.pprof")
				wait = func() { gw(); self() }
			}
			cpu := st.cpuSeconds()
			ok, failed := closedLoop(workers, d, getTicket(f, t.base))
			if r == 0 {
				cores[t.name] = cpuShare(cpu, st.cpuSeconds(), d)
			}
			wait()
			if failed > 0 {
				return Scenario{}, fmt.Errorf("S5 %s: %d reads failed", t.name, failed)
			}
			rates[t.name] = append(rates[t.name], float64(ok)/d.Seconds())
			time.Sleep(2 * time.Second)
		}
		// Latency at a light fixed rate, where nothing queues.
		for _, t := range []string{"direct", "gateway"} {
			base := map[string]string{"direct": direct, "gateway": st.gateway()}[t]
			ls, bad := latencies(openLoop(200, 5*time.Second, getTickets(f, base)), 200)
			if bad > 0 {
				return Scenario{}, fmt.Errorf("S5 %s at 200/s: %d reads failed", t, bad)
			}
			p50[t] = append(p50[t], ms(percentile(ls, 50)))
		}
		logf("S5 round %d: direct %.0f/s, bare proxy %.0f/s, gateway %.0f/s; p50 at 200/s direct %.2f ms, gateway %.2f ms", r+1,
			rates["direct"][r], rates["bare proxy"][r], rates["gateway"][r], p50["direct"][r], p50["gateway"][r])
	}
	value, baseline := median(rates["gateway"]), median(rates["bare proxy"])
	added := median(p50["gateway"]) - median(p50["direct"])
	return Scenario{
		Title: "the gateway hop on reading one ticket (32 connections, closed loop; audit consumer stopped, as the issue measured)",
		Value: value, Unit: "reads/s", Baseline: baseline, BaselineOf: "a bare httputil.ReverseProxy (a process of its own) in front of the same tickets service",
		Ratio: value / baseline, Target: "≥ 0.85 × the bare proxy; ≤ 1 ms p50 added over direct",
		Met: value >= 0.85*baseline && added <= 1,
		Details: map[string]any{
			"rounds (reads/s)":                    rates,
			"direct (reads/s, median)":            median(rates["direct"]),
			"p50 at 200/s (ms), rounds":           p50,
			"p50 added over direct (ms, median)":  added,
			"cores used by each process, round 1": cores,
		},
	}, nil
}

// s6Footprint: each service's memory idle and at S1's peak, and what 20
// logins a second (each a memory-hard password hash) do to the read mix's
// p99.
func s6Footprint(ctx context.Context, st *stack, f *fixture) (Scenario, error) {
	rate := st.s6Rate
	if rate == 0 {
		rate = int(st.s2Rate * 0.7)
	}
	if rate == 0 {
		rate = 300
	}
	next := readMix(f, st.gateway())
	email, err := loginUser(st)
	if err != nil {
		return Scenario{}, err
	}
	logins := func() vegeta.Targeter {
		return func(t *vegeta.Target) error {
			t.Method, t.URL = "POST", st.gateway()+"/auth/login"
			t.Body = fmt.Appendf(nil, `{"email":%q,"password":%q}`, email, benchPassword)
			t.Header = http.Header{"Content-Type": {"application/json"}}
			return nil
		}
	}
	// A failed request does not stop the run: it is counted, and any
	// failure means the target is not met.
	var without, with []float64
	var failed []string
	for r := range rounds {
		reads := openLoop(rate, 15*time.Second, next())
		ls, bad := latencies(reads, 0)
		if bad > 0 {
			failed = append(failed, fmt.Sprintf("round %d without logins: %d of the read mix (%s)", r+1, bad, failures(reads, 0)))
		}
		without = append(without, ms(percentile(ls, 99)))
		time.Sleep(3 * time.Second)
		loginDone := make(chan []*vegeta.Result)
		go func() { loginDone <- openLoop(20, 15*time.Second, logins()) }()
		reads = openLoop(rate, 15*time.Second, next())
		loginResults := <-loginDone
		ls, bad = latencies(reads, 0)
		_, loginBad := latencies(loginResults, 200)
		if bad > 0 || loginBad > 0 {
			failed = append(failed, fmt.Sprintf("round %d with logins: %d of the read mix (%s), %d of %d logins (%s)",
				r+1, bad, failures(reads, 0), loginBad, len(loginResults), failures(loginResults, 200)))
		}
		with = append(with, ms(percentile(ls, 99)))
		logf("S6 round %d at %d/s: p99 %.1f ms without logins, %.1f ms with 20 logins/s", r+1, rate, without[r], with[r])
		time.Sleep(3 * time.Second)
	}
	idleOK := true
	for _, v := range st.idleRSS {
		idleOK = idleOK && v <= 40
	}
	value, baseline := median(with), median(without)
	_ = ctx
	return Scenario{
		Title: fmt.Sprintf("footprint: memory idle and at S1's peak; read-mix p99 at %d/s while 20 logins/s run", rate),
		Value: value, Unit: "ms p99", Baseline: baseline, BaselineOf: "the same read mix without logins",
		Ratio: value / baseline, Target: "idle RSS ≤ 40 MiB each; p99 ≤ 1.5 × without logins",
		Met: idleOK && value <= 1.5*baseline && len(failed) == 0,
		Details: map[string]any{
			"idle RSS MiB":               st.idleRSS,
			"RSS MiB at S1 peak":         st.s1Peak,
			"rounds p99 ms without":      without,
			"rounds p99 ms with logins":  with,
			"read-mix rate (0.7 × S2's)": rate,
			"failed requests":            failed,
		},
	}, nil
}

// loginUser registers a user for the login load and returns its email.
func loginUser(st *stack) (string, error) {
	email := fmt.Sprintf("logins-%d@bench.example", time.Now().UnixNano())
	return email, call("POST", st.gateway()+"/auth/register", "", map[string]string{"email": email, "password": benchPassword}, nil, 201)
}

// exportTickets is the S7 size.
const exportTickets = 1_000_000

// lineCounter counts the lines written through it.
type lineCounter struct{ lines, bytes int64 }

func (c *lineCounter) Write(p []byte) (int, error) {
	for _, b := range p {
		if b == '\n' {
			c.lines++
		}
	}
	c.bytes += int64(len(p))
	return len(p), nil
}

// millionTickets tops the stack's tickets up to exportTickets (S7 and S10
// share them) and returns a pool on the stack's database, which the caller
// closes, and how many tickets there are.
func millionTickets(ctx context.Context, st *stack, f *fixture) (*pgxpool.Pool, int, error) {
	pool, err := pgxpool.New(ctx, st.dbURL)
	if err != nil {
		return nil, 0, err
	}
	have, err := topUp(ctx, pool, f)
	if err != nil {
		pool.Close()
		return nil, 0, err
	}
	return pool, have, nil
}

func topUp(ctx context.Context, pool *pgxpool.Pool, f *fixture) (int, error) {
	var have int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM tickets.requests`).Scan(&have); err != nil || have >= exportTickets {
		return have, err
	}
	owners := make([]int64, len(f.users))
	for i, u := range f.users {
		owners[i] = u.id
	}
	var staff int64
	if err := pool.QueryRow(ctx, `SELECT id FROM tickets.users WHERE role = 'staff' ORDER BY id LIMIT 1`).Scan(&staff); err != nil {
		return 0, err
	}
	return exportTickets, insertTickets(ctx, pool, owners, staff, exportTickets-have)
}

// s10Search: searches for two different words over a million tickets
// through the gateway, as an admin (every vector: text, comments, internal
// notes), at a fixed 20 a second: their p99, against the statement the
// tickets service runs (the ranked, counted page) sent straight to
// PostgreSQL one at a time.
func s10Search(ctx context.Context, st *stack, f *fixture) (Scenario, error) {
	pool, have, err := millionTickets(ctx, st, f)
	if err != nil {
		return Scenario{}, err
	}
	defer pool.Close()
	r := rand.New(rand.NewPCG(10, 10))
	queries := make([]string, 200)
	for i := range queries {
		w := r.Perm(len(vocabulary))
		queries[i] = vocabulary[w[0]] + " " + vocabulary[w[1]]
	}
	const doc = `(r.search_text || r.search_public || r.search_internal)`
	const page = `SELECT r.id, r.title, r.text, o.email, s.email, count(*) OVER () AS total,
       ts_rank(` + doc + `, websearch_to_tsquery(tickets.search_language(), $1)) AS rank
FROM tickets.requests r LEFT JOIN tickets.users o ON o.id = r.owner_id LEFT JOIN tickets.users s ON s.id = r.staff_id
WHERE ` + doc + ` @@ websearch_to_tsquery(tickets.search_language(), $1)
ORDER BY rank DESC, r.created_at DESC, r.id DESC LIMIT 51`
	var p99s, dbP99s []float64
	var matches []float64
	for round := range rounds {
		var direct []time.Duration
		for _, q := range queries {
			start := time.Now()
			rows, err := pool.Query(ctx, page, q)
			if err != nil {
				return Scenario{}, fmt.Errorf("search %q: %w", q, err)
			}
			n := int64(0)
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					return Scenario{}, err
				}
				n = vals[5].(int64)
			}
			rows.Close()
			direct = append(direct, time.Since(start))
			if round == 0 {
				matches = append(matches, float64(n))
			}
		}
		var next atomic.Int64
		results := openLoop(20, 20*time.Second, func(t *vegeta.Target) error {
			q := queries[int(next.Add(1))%len(queries)]
			t.Method, t.URL, t.Header, t.Body = "GET", st.gateway()+"/admin/requests?size=50&q="+url.QueryEscape(q), bearer(f.admin), nil
			return nil
		})
		lat, bad := latencies(results, http.StatusOK)
		if bad > 0 {
			return Scenario{}, fmt.Errorf("%d of %d searches failed", bad, len(results))
		}
		p99s, dbP99s = append(p99s, ms(percentile(lat, 99))), append(dbP99s, ms(percentile(direct, 99)))
		logf("S10 round %d: p99 %.1f ms through the gateway, %.1f ms straight to PostgreSQL", round+1, p99s[round], dbP99s[round])
	}
	value, baseline := median(p99s), median(dbP99s)
	return Scenario{
		Title: fmt.Sprintf("two-word full-text search over %d tickets through the gateway (GET /admin/requests?q=, 20 a second): p99", have),
		Value: value, Unit: "ms (p99)", Baseline: baseline, BaselineOf: "the same ranked, counted page statement straight to PostgreSQL, one at a time (p99)",
		Ratio: value / baseline, Target: "p99 ≤ 50 ms", Met: value <= 50,
		Details: map[string]any{
			"rounds p99 through the gateway (ms)": p99s,
			"rounds p99 straight (ms)":            dbP99s,
			"tickets matching a query (median)":   median(matches),
			"tickets matching a query (max)":      slices.Max(matches),
		},
	}, nil
}

// s7Export: the CSV export of a million tickets through the gateway,
// against psql's COPY of the same rows, and the tickets service's memory.
func s7Export(ctx context.Context, st *stack, f *fixture) (Scenario, error) {
	pool, have, err := millionTickets(ctx, st, f)
	if err != nil {
		return Scenario{}, err
	}
	defer pool.Close()
	const copyQuery = `COPY (SELECT r.id, coalesce(r.title, ''), r.text, r.status, r.priority, coalesce(r.category, ''),
 coalesce(r.staff_comment, ''), r.created_at, r.updated_at, coalesce(o.email, ''), coalesce(o.first_name, ''),
 coalesce(o.last_name, ''), coalesce(o.father_name, ''), coalesce(o.inn, ''), coalesce(o.phone, ''), coalesce(s.email, '')
 FROM tickets.requests r LEFT JOIN tickets.users o ON o.id = r.owner_id LEFT JOIN tickets.users s ON s.id = r.staff_id
 ORDER BY r.created_at DESC, r.id DESC) TO STDOUT WITH CSV`
	var rates, copyRates, peaks []float64
	for r := range rounds {
		var out lineCounter
		cmd := exec.CommandContext(ctx, "psql", "-X", "-q", "-c", copyQuery, st.dbURL)
		cmd.Stdout = &out
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return Scenario{}, fmt.Errorf("psql COPY: %w", err)
		}
		copyRates = append(copyRates, float64(out.lines)/time.Since(start).Seconds())

		stopRSS := st.peakRSS("tickets")
		req, err := http.NewRequestWithContext(ctx, "GET", st.gateway()+"/admin/requests/export", nil)
		if err != nil {
			return Scenario{}, err
		}
		req.Header.Set("Authorization", "Bearer "+f.admin)
		start = time.Now()
		resp, err := client.Do(req)
		if err != nil {
			stopRSS()
			return Scenario{}, err
		}
		var got lineCounter
		_, err = io.Copy(&got, resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		peak := stopRSS()["tickets"]
		if err != nil || resp.StatusCode != http.StatusOK || got.lines < int64(have) {
			return Scenario{}, fmt.Errorf("export: status %d, %d lines of %d tickets: %v", resp.StatusCode, got.lines, have, err)
		}
		rates = append(rates, float64(got.lines-1)/took.Seconds()) // less the header
		peaks = append(peaks, peak)
		logf("S7 round %d: COPY %.0f rows/s, export %.0f rows/s, tickets peak RSS %.0f MiB", r+1, copyRates[r], rates[r], peak)
	}
	value, baseline := median(rates), median(copyRates)
	peak := slices.Max(peaks)
	return Scenario{
		Title: fmt.Sprintf("CSV export of %d tickets through the gateway", have),
		Value: value, Unit: "rows/s", Baseline: baseline, BaselineOf: "psql COPY (SELECT …) TO STDOUT of the same rows",
		Ratio: value / baseline, Target: "≥ 0.5 × COPY, tickets' peak RSS < 100 MiB",
		Met: value >= 0.5*baseline && peak < 100,
		Details: map[string]any{
			"rounds (rows/s)":              rates,
			"rounds COPY (rows/s)":         copyRates,
			"tickets peak RSS MiB, rounds": peaks,
		},
	}, nil
}
