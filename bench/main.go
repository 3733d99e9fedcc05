// Command bench is `make bench`: it brings up a whole support system of its
// own (a database on the local PostgreSQL, a JetStream server, the four
// services on free loopback ports), runs the benchmark scenarios against
// it, each with a baseline measured in the same run, and writes
// bench/results.json and bench/results.md.
//
// It never touches the machine's shared NATS, and on PostgreSQL only the
// databases it creates (and drops at the end).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "[bench %s] %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) == 3 && os.Args[1] == "bare-proxy" { // S5's baseline, started by S5
		if err := serveBareProxy(ctx, os.Args[2], os.Stdout); err != nil {
			logf("bare proxy: %v", err)
			os.Exit(1)
		}
		return
	}
	if err := run(ctx, os.Args[1:]); err != nil {
		logf("error: %v", err)
		os.Exit(1)
	}
}

// ticketRun is a scenario on the tickets fixture.
type ticketRun func(context.Context, *stack, *fixture) (Scenario, error)

// ticketScenarios are the scenarios that share the tickets fixture.
var ticketScenarios = map[string]ticketRun{
	"S1": s1Create, "S2": s2ReadMix, "S5": s5Hop, "S6": s6Footprint, "S7": s7Export, "S10": s10Search,
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	scenarios := fs.String("scenarios", "S5,S1,S2,S6,S7,S10,S3,S9,S4,S8", "the scenarios to run, in order")
	out := fs.String("out", "bench/results", "where to write the results: OUT.json and OUT.md")
	pg := fs.String("pg", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable", "the PostgreSQL server, as a superuser")
	s3For := fs.Duration("s3-duration", 5*time.Minute, "how long S3 creates tickets")
	s4Events := fs.Int("s4-events", 200_000, "events S4 drains")
	s4Repeat := fs.Int("s4-repeat", 5, "S4 runs, each against its baseline")
	s8Events := fs.Int("s8-events", 1_000_000, "events S8 seeds")
	s8Requests := fs.Int("s8-requests", 30, "requests per S8 query and round, over 1.5 s, and per baseline")
	keepLogs := fs.String("logs", "", "a folder to copy the services' logs to at the end")
	s6Rate := fs.Int("s6-rate", 0, "the read-mix rate S6 runs at when S2 is not run first (0: 300/s)")
	profiles := fs.String("profiles", "", "a folder for CPU profiles of the services taken during S1, S2 and S5")
	if err := fs.Parse(args); err != nil {
		return err
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	res := newResults(root)
	logf("commit %s, %d cores, %s", res.Commit, res.Machine.Cores, res.Machine.Memory)
	st, err := newStack(ctx, root, *pg)
	defer func() {
		if st != nil {
			st.keepLogs = *keepLogs
			st.close()
		}
	}()
	if err != nil {
		return err
	}
	if *profiles != "" {
		if err := os.MkdirAll(*profiles, 0o755); err != nil {
			return err
		}
	}
	st.profiles = *profiles
	st.s6Rate = *s6Rate
	time.Sleep(5 * time.Second) // settled after start-up
	st.idleRSS = map[string]float64{}
	for _, name := range services {
		if st.idleRSS[name], err = st.rss(name); err != nil {
			return err
		}
	}
	logf("idle RSS MiB: %v", st.idleRSS)
	ticketScenario := func(run ticketRun) (Scenario, error) {
		f, err := st.fixture(ctx)
		if err != nil {
			return Scenario{}, err
		}
		return run(ctx, st, f)
	}
	for _, name := range strings.Split(*scenarios, ",") {
		// Each scenario on a quiet machine: the databases of the one
		// before gone, PostgreSQL checkpointed.
		if err := st.dropExtraDatabases(ctx); err != nil {
			return err
		}
		time.Sleep(5 * time.Second)
		start := time.Now()
		logf("%s: starting", name)
		var sc Scenario
		name = strings.TrimSpace(name)
		switch fn, onTickets := ticketScenarios[name]; {
		case onTickets:
			sc, err = ticketScenario(fn)
		case name == "S3":
			sc, err = s3Lag(ctx, st, *s3For)
		case name == "S4":
			sc, err = s4Drain(ctx, st, *s4Events, *s4Repeat)
		case name == "S8":
			sc, err = s8Logs(ctx, st, *s8Events, *s8Requests)
		case name == "S9":
			sc, err = s9NoLoss(ctx, st)
		default:
			return fmt.Errorf("unknown scenario %q", name)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		res.Scenarios[name] = sc
		logf("%s: %s %s (baseline %s, ratio %.2f, target %s): met %t, in %v", name, num(sc.Value), sc.Unit, num(sc.Baseline),
			sc.Ratio, sc.Target, sc.Met, time.Since(start).Round(time.Second))
		// Written after every scenario, so that an interrupted run keeps
		// what it measured.
		if err := res.write(*out+".json", *out+".md"); err != nil {
			return err
		}
	}
	logf("wrote %s.json and %s.md", *out, *out)
	return nil
}

// repoRoot finds the folder holding go.work.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.work not found above %s", dir)
		}
		dir = parent
	}
}
