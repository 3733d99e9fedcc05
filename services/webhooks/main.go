// Command webhooks is the webhooks service: admins register endpoints, and
// it delivers the events they subscribe to, signed (Standard Webhooks).
//
//	webhooks [serve]               serve (migrates the schema first)
//	webhooks migrate up|down [N]|version|force V
//	webhooks --help
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/service"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/api"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/postgres"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

func main() { service.Main("webhooks", run) }

const usage = `usage: webhooks [serve]
       webhooks ` + pgdb.MigrateUsage + `
       webhooks stream
       webhooks --help

The webhooks service: webhook endpoints and the signed delivery of the events they subscribe to.
serve migrates the schema first;
` + service.StreamHelp + `
Configuration comes from the environment (see .env.example).`

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if done, err := config.CheckArgs(args, usage, stdout, "migrate", "stream"); done || err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	switch {
	case len(args) > 0 && args[0] == "migrate":
		return postgres.Migrations.Command(cfg.DatabaseURL.Reveal(), args[1:], stdout)
	case len(args) > 0 && args[0] == "stream":
		return service.StreamCommand(ctx, cfg.Common, args[1:], stdout)
	}

	svc, err := service.Start(ctx, cfg.Common, stdout)
	if err != nil {
		return err
	}
	defer svc.Stop(&err)
	logger := svc.Logger
	if cfg.AllowPrivate {
		logger.Warn("WEBHOOK_ALLOW_PRIVATE is on: webhooks may reach loopback and private addresses (development only)")
	}
	pool, err := svc.Postgres(ctx, cfg.DatabaseURL, postgres.Migrations)
	if err != nil {
		return err
	}
	_, js, err := svc.NATS(ctx)
	if err != nil {
		return err
	}

	store := postgres.NewStore(pool)
	guard := webhook.Guard{AllowPrivate: cfg.AllowPrivate}
	dispatcher := &webhook.Dispatcher{
		Queue: store, Sender: webhook.NewSender(guard), Logger: logger, Schedule: cfg.Schedule,
		DisableAfter: cfg.DisableAfter, Workers: cfg.Workers, PerEndpoint: cfg.PerEndpoint, Poll: time.Second,
	}
	// Every replica queues from one durable consumer: an event is queued
	// once, and what was queued survives restarts in PostgreSQL.
	intake, err := bus.ConsumeBatch(ctx, js, bus.ConsumerConfig{Durable: "webhooks", FilterSubjects: webhook.Subjects, BatchSize: 200, Linger: 5 * time.Millisecond},
		bus.BatchApplier(dispatcher.Intake), bus.LogDeadLetter(logger), logger)
	if err != nil {
		return err
	}
	svc.Add("consumer", intake.Stop)

	tokens := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)
	engine := svc.Engine()
	api.New(webhook.NewService(store, guard), tokens, logger).Routes(engine)

	intake.RegisterMetrics(svc.Registry)
	prune := func(ctx context.Context) error {
		return webhook.PruneAttempts(ctx, store, cfg.KeepAttempts, time.Hour, logger)
	}
	return svc.Serve(ctx, engine, svc.Relay(postgres.Outbox, pool, js), dispatcher.Run, prune)
}
