// Command tickets is the tickets service: support requests, their owners'
// and staff members' directory, and their events.
//
//	tickets [serve]               serve (migrates the schema first)
//	tickets migrate up|down [N]|version|force V
//	tickets --help
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/lifecycle"
	"github.com/supportdesk/supportdesk/pkg/outbox"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/telemetry"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/api"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil // stopped while starting: a clean stop
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "tickets:", err)
		os.Exit(1)
	}
}

const usage = `usage: tickets [serve]
       tickets ` + pgdb.MigrateUsage + `
       tickets --help

The tickets service: support requests, comments, reports and the export. serve migrates the schema first.
Configuration comes from the environment (see .env.example).`

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if done, err := config.CheckArgs(args, usage, stdout, "migrate"); done || err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(args) > 0 && args[0] == "migrate" {
		return postgres.Migrations.Command(cfg.DatabaseURL.Reveal(), args[1:], stdout)
	}

	logger := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.ServiceName)
	logger.InfoContext(ctx, "starting", "addr", cfg.Addr, "nats", cfg.NATSURL, "debug", cfg.Debug)
	// Each part's stop is deferred as it starts: they stop in reverse.
	parts := lifecycle.New(logger, 10*time.Second)
	shutdownTracing, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, Endpoint: cfg.OTLPEndpoint})
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "telemetry", shutdownTracing)

	pool, err := postgres.Migrations.Open(ctx, cfg.DatabaseURL.Reveal())
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "postgres", lifecycle.Quiet(pool.Close))

	nc, js, err := bus.Open(ctx, cfg.NATSURL, cfg.ServiceName, cfg.EventsRetention)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "nats", func(ctx context.Context) error { return bus.Drain(ctx, nc) })

	store := postgres.NewStore(pool)
	tickets := ticket.NewService(store)
	tokens := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)

	directory, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "tickets-directory", FilterSubject: "support.user.>"},
		bus.Applier(ticket.NewDirectory(store).Apply), bus.LogDeadLetter(logger), logger)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "consumer", directory.Stop)

	reg := prometheus.NewRegistry()
	engine := web.NewEngine(cfg.ServiceName, logger, reg)
	web.HealthRoutes(engine, map[string]web.Check{
		"postgres": store.Ping,
		"nats":     func(context.Context) error { return bus.Healthy(nc) },
	})
	api.New(tickets, tokens, logger).Routes(engine)
	api.NewReports(ticket.NewReports(store), tokens, logger).Routes(engine)

	relay := outbox.NewRelay(postgres.Outbox, pool, bus.NewPublisher(js), outbox.RelayConfig{}, logger)
	relay.RegisterMetrics(reg)
	directory.RegisterMetrics(reg)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return relay.Run(gctx) })
	g.Go(func() error { return web.Serve(gctx, cfg.Addr, engine, 10*time.Second, logger) })
	err = g.Wait()
	logger.InfoContext(ctx, "shutting down", "err", err)
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
