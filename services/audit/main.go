// Command audit consumes every domain event of the support system from NATS
// JetStream into MongoDB and serves the /admin/logs/* queries.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/lifecycle"
	"github.com/supportdesk/supportdesk/pkg/telemetry"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/api"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
)

const (
	serviceName     = "audit"
	startTimeout    = 30 * time.Second // for each dependency at start-up
	shutdownTimeout = 10 * time.Second // for each part at shutdown
	// mongoSelectTimeout bounds how long an operation waits for a reachable
	// server, so that a query answers 503 and a message is retried promptly
	// while MongoDB is down. serverSelectionTimeoutMS in MONGODB_URL
	// overrides it.
	mongoSelectTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil // stopped while starting: a clean stop
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
}

const usage = `usage: audit [serve]
       audit replay --since=<RFC 3339 time or duration like 72h>
       audit import --from=<MongoDB URL> [--database=app_logs]
       audit seed --events=<N>
       audit --help

The audit service: consumes every event into the audit log and serves /admin/logs/*.
Configuration comes from the environment (see .env.example).`

// run runs the command args name: serve (the default), replay, import or
// seed.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	cmd, rest := "serve", args
	if len(args) > 0 {
		cmd, rest = args[0], args[1:]
	}
	switch {
	case config.WantsHelp(args):
		fmt.Fprintln(stdout, usage)
		return nil
	case cmd == "serve" && len(rest) == 0:
		return serve(ctx, getenv, stdout)
	case cmd == "replay":
		return replay(ctx, rest, getenv, stdout)
	case cmd == "import":
		return importLog(ctx, rest, getenv, stdout)
	case cmd == "seed":
		return seed(ctx, rest, getenv, stdout)
	}
	return fmt.Errorf("unexpected arguments %q; %s", args, usage)
}

// serve starts the service and blocks until ctx ends, then shuts everything
// down in the reverse order of start-up.
func serve(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.ServiceName)
	logger.InfoContext(ctx, "starting", "config", cfg)
	parts := lifecycle.New(logger, shutdownTimeout)

	shutdownTelemetry, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, Endpoint: cfg.OTLPEndpoint})
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "telemetry", shutdownTelemetry)

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, st.name, st.close)
	stopPurge, err := startRetention(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "retention purge", stopPurge)

	nc, js, err := bus.Connect(cfg.NATSURL, cfg.ServiceName)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "nats", func(ctx context.Context) error { return bus.Drain(ctx, nc) })
	if err := withTimeout(ctx, func(ctx context.Context) error {
		_, err := bus.EnsureStream(ctx, js, cfg.Stream())
		return err
	}); err != nil {
		return err
	}

	svc := audit.NewService(st, time.Now)
	cons, err := bus.ConsumeBatch(ctx, js, consumer.Config(cfg.BatchSize), consumer.Handler(svc), consumer.DeadLetter(svc), logger)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "consumer", cons.Stop)

	tm := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)
	reg := prometheus.NewRegistry()
	cons.RegisterMetrics(reg)
	limits := api.Limits{Concurrent: cfg.MaxQueries, Timeout: cfg.QueryTimeout}
	engine := newRouter(logger, reg, svc, tm, limits, map[string]web.Check{
		st.name: st.check,
		"nats":  func(context.Context) error { return bus.Healthy(nc) },
	})
	err = web.Serve(ctx, cfg.Addr, engine, shutdownTimeout, logger)
	logger.InfoContext(ctx, "shutting down", "err", err)
	return err
}

// newRouter is the service's HTTP router: health, metrics and the log
// queries.
func newRouter(logger *slog.Logger, reg *prometheus.Registry, svc api.Service, tm *token.Manager, limits api.Limits, checks map[string]web.Check) *gin.Engine {
	engine := web.NewEngine(serviceName, logger, reg)
	web.HealthRoutes(engine, checks)
	api.Routes(engine, svc, tm, limits, logger)
	return engine
}

// startRetention sets up the removal of entries past AUDIT_RETENTION_DAYS:
// a TTL index where the database has them, else a purge every
// AUDIT_PURGE_INTERVAL, which the returned function stops.
func startRetention(ctx context.Context, cfg Config, store *openedStore, logger *slog.Logger) (func(context.Context) error, error) {
	var how audit.Retention
	err := withTimeout(ctx, func(ctx context.Context) error {
		var err error
		how, err = store.retention(ctx, cfg.Retention)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("retention: %w", err)
	}
	logger.InfoContext(ctx, "retention", "keep", cfg.Retention.String(), "by", how.String())
	if how != audit.ByPurge {
		return func(context.Context) error { return nil }, nil
	}
	p := &audit.Purger{Store: store, Keep: cfg.Retention, Every: cfg.PurgeInterval, Now: time.Now, Logger: logger}
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(pctx)
	}()
	return func(ctx context.Context) error {
		cancel()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}, nil
}

// withTimeout runs a start-up step with its deadline.
func withTimeout(ctx context.Context, step func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return step(ctx)
}
