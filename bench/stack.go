package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/freeport"
)

// services are the binaries of the system, in the order they start.
var services = []string{"auth", "tickets", "audit", "webhooks", "gateway"}

// stack is a whole system of the benchmark's own: a database on the local
// PostgreSQL, a JetStream server in this process, and the four services as
// processes on free loopback ports.
type stack struct {
	root     string // the repository
	work     string // binaries and logs
	adminURL string // the PostgreSQL server, as its superuser
	dbURL    string // the stack's database
	nats     *server.Server
	env      map[string]string
	ports    map[string]string
	procs    map[string]*exec.Cmd
	dbs      []string // databases to drop at the end
	keepLogs string   // a folder to copy the services' logs to at the end

	// What the ticket scenarios share and hand on to S6.
	fix     *fixture
	idleRSS map[string]float64 // each service's memory before any load, MiB
	s1Peak  map[string]float64 // each service's peak memory in S1's last search
	s2Rate  float64            // S2's sustained rate
	s6Rate  int                // S6's read-mix rate when set (-s6-rate); else 0.7 × S2's

	profiles string // a folder for CPU profiles taken during the scenarios; "" takes none
}

// profile takes a CPU profile of a service for d, in the background, into
// the profiles folder as file; wait returns when it is written.
func (s *stack) profile(name string, d time.Duration, file string) (wait func()) {
	if s.profiles == "" {
		return func() {}
	}
	path := filepath.Join(s.profiles, file)
	return inBackground(name, func() error {
		u := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", s.env[strings.ToUpper(name)+"_ADMIN_ADDR"], int(d.Seconds()))
		resp, err := http.Get(u)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		return os.WriteFile(path, b, 0o644)
	})
}

// profileSelf is profile for this process: the load generator and the
// JetStream server.
func (s *stack) profileSelf(d time.Duration, file string) (wait func()) {
	if s.profiles == "" {
		return func() {}
	}
	path := filepath.Join(s.profiles, file)
	return inBackground("bench", func() error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			f.Close()
			return err
		}
		time.Sleep(d)
		pprof.StopCPUProfile()
		return f.Close()
	})
}

// inBackground runs take in a goroutine and logs its error as the
// profile of what; wait returns when take has.
func inBackground(what string, take func() error) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := take(); err != nil {
			logf("profile %s: %v", what, err)
		}
	}()
	return func() { <-done }
}

// fixture returns the ticket scenarios' users and tickets, seeding them the
// first time.
func (s *stack) fixture(ctx context.Context) (*fixture, error) {
	if s.fix == nil {
		f, err := newFixture(ctx, s)
		if err != nil {
			return nil, err
		}
		s.fix = f
	}
	return s.fix, nil
}

// newStack builds the services and starts the system.
func newStack(ctx context.Context, root, adminURL string) (*stack, error) {
	work, err := os.MkdirTemp("", "bench-")
	if err != nil {
		return nil, err
	}
	s := &stack{root: root, work: work, adminURL: adminURL, ports: map[string]string{}, procs: map[string]*exec.Cmd{}}
	logf("building the services")
	build := exec.CommandContext(ctx, "go", "build", "-o", work+"/", "./services/auth", "./services/tickets", "./services/audit", "./services/webhooks", "./services/gateway")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return s, fmt.Errorf("build: %w\n%s", err, out)
	}
	if s.dbURL, err = s.newDatabase(ctx); err != nil {
		return s, err
	}
	s.nats, err = server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: server.RANDOM_PORT, JetStream: true,
		StoreDir: filepath.Join(work, "nats"), NoLog: true, NoSigs: true,
		// The stream of the drain benchmark holds 200 000 events at once.
		JetStreamMaxMemory: 1 << 30, JetStreamMaxStore: 16 << 30,
	})
	if err != nil {
		return s, err
	}
	s.nats.Start()
	if !s.nats.ReadyForConnections(10 * time.Second) {
		return s, errors.New("nats-server not ready")
	}
	for _, name := range services {
		if s.ports[name], err = freePort(); err != nil {
			return s, err
		}
	}
	s.env = map[string]string{
		"PATH":                         os.Getenv("PATH"),
		"SECRET_KEY":                   "bench-secret-0123456789abcdef0123456789abcdef",
		"DATABASE_URL":                 s.dbURL,
		"AUDIT_DATABASE_URL":           s.dbURL,
		"NATS_URL":                     s.nats.ClientURL(),
		"LOG_LEVEL":                    "warn",
		"ACCESS_TOKEN_EXPIRE_MINUTES":  "240",
		"RATE_LIMIT_CLIENT_PER_MINUTE": "1000000000",
		"RATE_LIMIT_USER_PER_MINUTE":   "1000000000",
		"INITIAL_ADMIN_EMAIL":          benchAdmin,
		"INITIAL_ADMIN_PASSWORD":       benchPassword,
		"INITIAL_USER_EMAIL":           benchUser,
		"INITIAL_USER_PASSWORD":        benchPassword,
		"INITIAL_STAFF_EMAIL":          "staff@bench.example",
		"INITIAL_STAFF_PASSWORD":       benchPassword,
	}
	for _, name := range services {
		s.env[strings.ToUpper(name)+"_ADDR"] = "127.0.0.1:" + s.ports[name]
		s.env[strings.ToUpper(name)+"_URL"] = "http://127.0.0.1:" + s.ports[name]
		// The profiler, for looking into a run (go tool pprof
		// http://ADDR/debug/pprof/profile?seconds=10).
		admin, err := freePort()
		if err != nil {
			return s, err
		}
		s.env[strings.ToUpper(name)+"_ADMIN_ADDR"] = "127.0.0.1:" + admin
	}
	logf("admin listeners (pprof): gateway %s, auth %s, tickets %s, audit %s", s.env["GATEWAY_ADMIN_ADDR"],
		s.env["AUTH_ADMIN_ADDR"], s.env["TICKETS_ADMIN_ADDR"], s.env["AUDIT_ADMIN_ADDR"])
	for _, name := range services {
		if err := s.start(ctx, name); err != nil {
			return s, err
		}
	}
	return s, nil
}

// The accounts the stack starts with.
const (
	benchAdmin    = "admin@bench.example"
	benchUser     = "user@bench.example"
	benchPassword = "BenchPassw0rd!Long"
)

func freePort() (string, error) {
	port, err := freeport.Get()
	return strconv.Itoa(port), err
}

// dropExtraDatabases drops the databases made after the stack's own (by a
// scenario, for its baselines), and checkpoints PostgreSQL: the next
// scenario starts without their autovacuum or their dirty pages.
func (s *stack) dropExtraDatabases(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for len(s.dbs) > 1 {
		db := s.dbs[len(s.dbs)-1]
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
			return err
		}
		s.dbs = s.dbs[:len(s.dbs)-1]
	}
	_, err = conn.Exec(ctx, "CHECKPOINT")
	return err
}

// newDatabase creates an empty database, dropped when the stack closes.
func (s *stack) newDatabase(ctx context.Context) (string, error) {
	conn, err := pgx.Connect(ctx, s.adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to PostgreSQL at %s: %w", s.adminURL, err)
	}
	defer conn.Close(ctx)
	name := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		return "", err
	}
	s.dbs = append(s.dbs, name)
	u, err := url.Parse(s.adminURL)
	if err != nil {
		return "", err
	}
	u.Path = "/" + name
	return u.String(), nil
}

// start runs a service with the stack's environment and extra settings,
// and waits until it is ready.
func (s *stack) start(ctx context.Context, name string, extra ...string) error {
	logFile, err := os.OpenFile(filepath.Join(s.work, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(s.work, name))
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return err
	}
	s.procs[name] = cmd
	ready := s.serviceURL(name) + "/health/ready"
	if name == "gateway" {
		ready = s.serviceURL(name) + "/health"
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not ready (log in %s)", name, logFile.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stop ends a service with SIGTERM and waits for it.
func (s *stack) stop(name string) error {
	cmd := s.procs[name]
	if cmd == nil {
		return nil
	}
	delete(s.procs, name)
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return fmt.Errorf("%s did not stop within 30 s", name)
	}
}

func (s *stack) serviceURL(name string) string { return "http://127.0.0.1:" + s.ports[name] }

// jetStream connects to the stack's JetStream server; the caller closes
// the connection.
func (s *stack) jetStream() (*nats.Conn, jetstream.JetStream, error) {
	nc, err := nats.Connect(s.nats.ClientURL())
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return nc, js, nil
}

// gateway is the public address of the system.
func (s *stack) gateway() string { return s.serviceURL("gateway") }

// close stops everything the stack started and drops its databases.
func (s *stack) close() {
	for i := len(services) - 1; i >= 0; i-- {
		_ = s.stop(services[i])
	}
	if s.nats != nil {
		s.nats.Shutdown()
		s.nats.WaitForShutdown()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, s.adminURL); err == nil {
		for _, db := range s.dbs {
			if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+db+" WITH (FORCE)"); err != nil {
				logf("drop %s: %v", db, err)
			}
		}
		conn.Close(ctx)
	}
	if s.keepLogs != "" {
		for _, name := range services {
			if b, err := os.ReadFile(filepath.Join(s.work, name+".log")); err == nil {
				_ = os.WriteFile(filepath.Join(s.keepLogs, name+".log"), b, 0o644)
			}
		}
	}
	_ = os.RemoveAll(s.work)
}

// command runs a service binary's subcommand with the stack's environment
// and extra settings, and returns what it printed.
func (s *stack) command(ctx context.Context, name string, args []string, extra ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(s.work, name), args...)
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}
