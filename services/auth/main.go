// Command auth is the auth service: users, credentials, tokens and roles.
//
//	auth [serve]               serve (migrates the schema first)
//	auth migrate up|down [N]|version|force V
//	auth --help
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
	"github.com/supportdesk/supportdesk/services/auth/internal/api"
	"github.com/supportdesk/supportdesk/services/auth/internal/postgres"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

func main() { service.Main("auth", run) }

const usage = `usage: auth [serve]
       auth ` + pgdb.MigrateUsage + `
       auth stream
       auth --help

The auth service: users, credentials, tokens and roles. serve migrates the schema first;
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
	pool, err := svc.Postgres(ctx, cfg.DatabaseURL, postgres.Migrations)
	if err != nil {
		return err
	}
	_, js, err := svc.NATS(ctx)
	if err != nil {
		return err
	}

	store := postgres.NewStore(pool)
	tokens := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)
	users, err := user.NewService(store, tokens, logger)
	if err != nil {
		return err
	}
	if err := users.Bootstrap(ctx, cfg.Seeds); err != nil {
		return err
	}
	if err := svc.ShareLimits(ctx, js, users.Limits()); err != nil {
		return err
	}
	owners, err := bus.ConsumeBatch(ctx, js, bus.ConsumerConfig{Durable: "auth-ticket-owners", FilterSubject: "support.ticket.>", BatchSize: 200, Linger: 5 * time.Millisecond},
		bus.BatchApplier(user.NewTicketOwners(store).ApplyBatch), bus.LogDeadLetter(logger), logger)
	if err != nil {
		return err
	}
	svc.Add("consumer", owners.Stop)

	engine := svc.Engine()
	api.New(users, tokens, logger).Routes(engine)

	owners.RegisterMetrics(svc.Registry)
	return svc.Serve(ctx, engine, svc.Relay(postgres.Outbox, pool, js))
}
