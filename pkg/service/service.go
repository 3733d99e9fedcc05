// Package service is the frame of every service binary: its main, the
// start of what the services share (the logger, tracing, PostgreSQL, NATS
// and the HTTP engine), each registered to stop in the reverse order, and
// serving until a signal. A service's main.go is then the list of its own
// parts:
//
//	svc, err := service.Start(ctx, cfg.Common, stdout)
//	if err != nil {
//		return err
//	}
//	defer svc.Stop(&err)
//	pool, err := svc.Postgres(ctx, cfg.DatabaseURL, postgres.Migrations)
//	...
//	return svc.Serve(ctx, engine, svc.Relay(postgres.Outbox, pool, js))
//
// Each part it opens (PostgreSQL, NATS) is checked by the readiness route.
package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/lifecycle"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/ratelimit"
	"github.com/supportdesk/supportdesk/pkg/telemetry"
	"github.com/supportdesk/supportdesk/pkg/web"
)

// StopTimeout is how long each part gets to stop, and the HTTP server to
// finish the requests in flight.
const StopTimeout = 10 * time.Second

// Run is a command: its arguments (without the program name), the
// environment and where its output and logs go.
type Run func(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error

// Main runs run on the process's arguments, environment and standard
// output, with a context that ends on SIGINT or SIGTERM, and exits 1 with
// the error, prefixed by name. A signal while starting is a clean stop.
func Main(name string, run Run) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Service is one running service's shared parts. Its Parts stop what was
// started, the last first.
type Service struct {
	*lifecycle.Parts
	Logger   *slog.Logger
	Registry *prometheus.Registry
	cfg      config.Common
	checks   map[string]web.Check // of /health/ready
}

// Start logs, with attrs, that the service cfg configures is starting,
// and sets up its tracing. The caller defers Stop at once: it stops
// every part started through the Service or added to it.
func Start(ctx context.Context, cfg config.Common, stdout io.Writer, attrs ...any) (*Service, error) {
	if os.Getenv("GOGC") == "" {
		// Half the collections of the default (100) for a heap that
		// may grow to three times what is live: the services' live heaps
		// are a few MiB, and collecting was a fifth of the gateway's
		// work per request.
		debug.SetGCPercent(200)
	}
	logger := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.ServiceName)
	logger.InfoContext(ctx, "starting", append([]any{"addr", cfg.Addr, "nats", cfg.NATSURL, "debug", cfg.Debug}, attrs...)...)
	s := &Service{Parts: lifecycle.New(logger, StopTimeout), Logger: logger, Registry: prometheus.NewRegistry(), cfg: cfg,
		checks: map[string]web.Check{}}
	shutdown, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, Endpoint: cfg.OTLPEndpoint})
	if err != nil {
		return nil, err
	}
	s.Add("telemetry", shutdown)
	return s, nil
}

// Postgres brings the schema of m up to date and opens a pool on it.
func (s *Service) Postgres(ctx context.Context, url config.Secret, m pgdb.Migrations) (*pgxpool.Pool, error) {
	pool, err := m.Open(ctx, url.Reveal())
	if err != nil {
		return nil, err
	}
	s.Add("postgres", lifecycle.Quiet(pool.Close))
	s.Check("postgres", pool.Ping)
	return pool, nil
}

// Relay returns the job that publishes what ob holds in pool on js, its
// metrics in Registry.
func (s *Service) Relay(ob outbox.Outbox, pool *pgxpool.Pool, js jetstream.JetStream) func(context.Context) error {
	pub := bus.NewPublisher(js)
	relay := outbox.NewRelay(ob, pool, pub, outbox.RelayConfig{Linger: 3 * time.Millisecond}, s.Logger)
	relay.RegisterMetrics(s.Registry)
	s.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "events_published_total",
			Help: "Events this process published that the stream stored."},
			func() float64 { stored, _ := pub.Counts(); return float64(stored) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "events_publish_duplicates_total",
			Help: "Publishes the stream had stored already and dropped as duplicates (retries after a lost ack)."},
			func() float64 { _, dup := pub.Counts(); return float64(dup) }))
	return relay.Run
}

// NATS connects to NATS and opens the events stream, creating it when it
// is missing; an existing stream is left as it is, with a warning when it
// differs from the settings (`<service> stream` applies them). The
// connection is drained at stop.
func (s *Service) NATS(ctx context.Context) (*nats.Conn, jetstream.JetStream, error) {
	nc, js, drift, err := bus.Open(ctx, s.cfg.NATSURL, s.cfg.ServiceName, Stream(s.cfg))
	if err != nil {
		return nil, nil, err
	}
	if drift != "" {
		s.Logger.WarnContext(ctx, "the events stream is not as configured; left as it is", "drift", drift,
			"apply", s.cfg.ServiceName+" stream")
	}
	s.Add("nats", func(ctx context.Context) error { return bus.Drain(ctx, nc) })
	s.Check("nats", func(context.Context) error { return bus.Healthy(nc) })
	return nc, js, nil
}

// Stream is the event stream cfg configures: the system's default with its
// retention and replicas.
func Stream(cfg config.Common) bus.StreamConfig {
	s := bus.DefaultStream()
	s.MaxAge, s.Replicas = cfg.EventsRetention, cfg.StreamReplicas
	return s
}

// StreamHelp explains the stream command in a binary's usage.
const StreamHelp = `stream creates the events stream, or updates it to STREAM_REPLICAS and EVENTS_RETENTION_DAYS
(a service starting only creates a missing stream, and leaves an existing one as it is).`

// StreamCommand runs `<service> stream`: it creates the events stream or
// updates it to cfg's replicas and retention, and prints what it is now.
// It is the one step that changes an existing stream; services starting
// only create a missing one.
func StreamCommand(ctx context.Context, cfg config.Common, args []string, out io.Writer) error {
	if len(args) > 0 {
		return fmt.Errorf("stream takes no arguments, got %q", args)
	}
	nc, js, err := bus.Connect(cfg.NATSURL, cfg.ServiceName+"-stream")
	if err != nil {
		return err
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := bus.EnsureStream(ctx, js, Stream(cfg))
	if err != nil {
		return err
	}
	c := st.CachedInfo().Config
	fmt.Fprintf(out, "stream %s: %d replicas, max age %s\n", c.Name, c.Replicas, c.MaxAge)
	return nil
}

// ShareLimits makes each of limits one budget across the service's replicas
// (see ratelimit.Keyed.Share), keyed by its subject in the stream of
// spends; the sharing stops with the service.
func (s *Service) ShareLimits(ctx context.Context, js jetstream.JetStream, limits map[string]*ratelimit.Keyed) error {
	if err := ratelimit.OpenStream(ctx, js, s.cfg.StreamReplicas); err != nil {
		return err
	}
	for subject, k := range limits {
		sharing, err := k.Share(ctx, js, subject, ratelimit.ShareInterval, s.Logger)
		if err != nil {
			return err
		}
		s.Add("rate limits on "+subject, sharing.Stop)
	}
	return nil
}

// Check adds check, under name, to what the readiness route checks.
func (s *Service) Check(name string, check web.Check) { s.checks[name] = check }

// Engine returns the service's HTTP engine: request metrics in Registry,
// served at /metrics unless an admin listener serves them, then middleware
// for every route registered after it, the health routes among them;
// readiness checks every part the service opened, and those added by Check
// before.
func (s *Service) Engine(middleware ...gin.HandlerFunc) *gin.Engine {
	engine := web.NewEngine(s.Logger, s.Registry)
	if s.cfg.AdminAddr == "" {
		web.MetricsRoute(engine, s.Registry)
	}
	engine.Use(middleware...)
	web.HealthRoutes(engine, s.checks)
	return engine
}

// Serve serves h on the service's address and runs each job until ctx ends, which is a
// clean stop (nil), or one of them fails, which stops the others and is
// returned. With an admin address configured, it serves the profiler and
// the metrics there too (see Admin).
func (s *Service) Serve(ctx context.Context, h http.Handler, jobs ...func(context.Context) error) error {
	// What starting took (parsing documents, migrating, hashing the seed
	// accounts' passwords) goes back to the system before serving, rather
	// than idling in the process until the scavenger returns it.
	debug.FreeOSMemory()
	g, gctx := errgroup.WithContext(ctx)
	if s.cfg.AdminAddr != "" {
		g.Go(func() error { return web.Serve(gctx, s.cfg.AdminAddr, Admin(s.Registry), StopTimeout, s.Logger) })
	}
	for _, job := range jobs {
		g.Go(func() error { return job(gctx) })
	}
	g.Go(func() error { return web.Serve(gctx, s.cfg.Addr, h, StopTimeout, s.Logger) })
	err := g.Wait()
	s.Logger.InfoContext(ctx, "shutting down", "err", err)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Admin is the handler of the internal admin listener: the Go profiler
// under /debug/pprof/ and the metrics of reg at /metrics. It is never
// mounted on a public port.
func Admin(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}
