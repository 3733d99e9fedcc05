// Command tickets is the tickets service: support requests, their owners'
// and staff members' directory, and their events.
//
//	tickets [serve]               serve (migrates the schema first)
//	tickets migrate up|down [N]|version|force V
//	tickets --help
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
	"github.com/supportdesk/supportdesk/services/tickets/internal/api"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

func main() { service.Main("tickets", run) }

const usage = `usage: tickets [serve]
       tickets ` + pgdb.MigrateUsage + `
       tickets stream
       tickets --help

The tickets service: support requests, comments, reports and the export. serve migrates the schema first;
` + service.StreamHelp + `
Configuration comes from the environment (see .env.example).`

// clockInterval is how often the SLA clocks are checked: a breach is
// published within it (and the outbox relay's delay) of its due time.
const clockInterval = 500 * time.Millisecond

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
	pool, err := svc.Postgres(ctx, cfg.DatabaseURL, postgres.Migrations)
	if err != nil {
		return err
	}
	_, js, err := svc.NATS(ctx)
	if err != nil {
		return err
	}

	store := postgres.NewStore(pool)
	if err := store.UseSearchLanguage(ctx, cfg.SearchLanguage, logger); err != nil {
		return err
	}
	tickets := ticket.NewService(store, cfg.SLAPolicy)
	tokens := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)

	directory, err := bus.Consume(ctx, js, bus.ConsumerConfig{Durable: "tickets-directory", FilterSubject: "support.user.>"},
		bus.Applier(ticket.NewDirectory(store).Apply), bus.LogDeadLetter(logger), logger)
	if err != nil {
		return err
	}
	svc.Add("consumer", directory.Stop)

	engine := svc.Engine()
	api.New(tickets, ticket.NewReports(store), tokens, logger).Routes(engine)

	directory.RegisterMetrics(svc.Registry)
	clocks := func(ctx context.Context) error { return tickets.RunClocks(ctx, clockInterval, logger) }
	return svc.Serve(ctx, engine, svc.Relay(postgres.Outbox, pool, js), clocks)
}
