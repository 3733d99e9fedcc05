// Command audit consumes every domain event of the support system from NATS
// JetStream into MongoDB and serves the /admin/logs/* queries.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/service"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/services/audit/internal/api"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
)

const (
	startTimeout = 30 * time.Second // for each dependency at start-up
	// mongoSelectTimeout bounds how long an operation waits for a reachable
	// server, so that a query answers 503 and a message is retried promptly
	// while MongoDB is down. serverSelectionTimeoutMS in MONGODB_URL
	// overrides it.
	mongoSelectTimeout = 10 * time.Second
)

func main() { service.Main("audit", run) }

const usage = `usage: audit [serve]
       audit replay --since=<RFC 3339 time or duration like 72h>
       audit import --from=<MongoDB URL> [--database=app_logs]
       audit seed --events=<N>
       audit stream
       audit --help

The audit service: consumes every event into the audit log and serves /admin/logs/*.
` + service.StreamHelp + `
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
	case cmd == "stream":
		cfg, err := loadConfig(getenv)
		if err != nil {
			return fmt.Errorf("configuration: %w", err)
		}
		return service.StreamCommand(ctx, cfg.Common, rest, stdout)
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
	svc, err := service.Start(ctx, cfg.Common, stdout, "config", cfg)
	if err != nil {
		return err
	}
	defer svc.Stop(&err)
	logger := svc.Logger

	st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	svc.Add(st.name, st.close)
	stopPurge, err := startRetention(ctx, cfg, st, logger)
	if err != nil {
		return err
	}
	svc.Add("retention purge", stopPurge)

	_, js, err := svc.NATS(ctx)
	if err != nil {
		return err
	}

	logs := audit.NewService(st, time.Now)
	cons, err := bus.ConsumeBatch(ctx, js, consumer.Config(cfg.BatchSize), consumer.Handler(logs), consumer.DeadLetter(logs), logger)
	if err != nil {
		return err
	}
	svc.Add("consumer", cons.Stop)

	tm := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)
	cons.RegisterMetrics(svc.Registry)
	svc.Check(st.name, st.check)
	engine := svc.Engine()
	api.Routes(engine, logs, tm, api.Limits{Concurrent: cfg.MaxQueries, Timeout: cfg.QueryTimeout}, logger)
	return svc.Serve(ctx, engine)
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
