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

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/telemetry"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/api"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
)

const (
	serviceName     = "audit"
	startTimeout    = 30 * time.Second // for each dependency at start-up
	shutdownTimeout = 10 * time.Second // for each part at shutdown
	// mongoSelectTimeout bounds how long an operation waits for a reachable
	// server, so that a query answers 503 and a message is retried promptly
	// while MongoDB is down.
	mongoSelectTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "audit:", err)
		os.Exit(1)
	}
}

// run starts the service and blocks until ctx ends, then shuts everything
// down in the reverse order of start-up.
func run(ctx context.Context, getenv func(string) string, stdout io.Writer) (err error) {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	logger := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.ServiceName)
	logger.InfoContext(ctx, "starting", "config", cfg)

	shutdownTelemetry, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, Endpoint: cfg.OTLPEndpoint})
	if err != nil {
		return err
	}
	defer stopPart(&err, logger, "telemetry", shutdownTelemetry)

	client, err := connectMongo(ctx, cfg)
	if err != nil {
		return err
	}
	defer stopPart(&err, logger, "mongodb", client.Disconnect)
	store := mongostore.New(client.Database(cfg.MongoDatabase))
	if err := withTimeout(ctx, store.EnsureIndexes); err != nil {
		return err
	}

	nc, js, err := bus.Connect(cfg.NATSURL, cfg.ServiceName)
	if err != nil {
		return err
	}
	defer stopPart(&err, logger, "nats", func(ctx context.Context) error { return drain(ctx, nc) })
	sctx, cancel := context.WithTimeout(ctx, startTimeout)
	_, err = bus.EnsureStream(sctx, js, bus.DefaultStream())
	cancel()
	if err != nil {
		return err
	}

	svc := audit.NewService(store, time.Now)
	cons, err := bus.Consume(ctx, js, consumer.Config(), consumer.Handler(svc), consumer.DeadLetter(svc), logger)
	if err != nil {
		return err
	}
	defer stopPart(&err, logger, "consumer", cons.Stop)

	tm := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)
	engine := web.NewEngine(serviceName, logger, prometheus.NewRegistry())
	web.HealthRoutes(engine, map[string]web.Check{
		"mongodb": func(ctx context.Context) error { return client.Ping(ctx, nil) },
		"nats":    func(context.Context) error { return bus.Healthy(nc) },
	})
	api.Routes(engine, svc, tm, logger)
	err = web.Serve(ctx, cfg.Addr, engine, shutdownTimeout, logger)
	logger.InfoContext(ctx, "shutting down", "err", err)
	return err
}

// connectMongo connects to MongoDB and pings it, so that a wrong URL fails
// the start rather than the first request.
func connectMongo(ctx context.Context, cfg Config) (*mongo.Client, error) {
	client, err := mongo.Connect(options.Client().
		ApplyURI(cfg.MongoURL.Reveal()).
		SetAppName(cfg.ServiceName).
		SetServerSelectionTimeout(mongoSelectTimeout).
		SetMonitor(mongostore.Monitor(otel.GetTracerProvider())))
	if err != nil {
		return nil, fmt.Errorf("mongodb client: %w", err)
	}
	if err := withTimeout(ctx, func(ctx context.Context) error { return client.Ping(ctx, nil) }); err != nil {
		_ = withTimeout(context.WithoutCancel(ctx), client.Disconnect)
		return nil, fmt.Errorf("ping mongodb at %s: %w", redactURL(cfg.MongoURL.Reveal()), err)
	}
	return client, nil
}

// withTimeout runs a start-up step with its deadline.
func withTimeout(ctx context.Context, step func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	return step(ctx)
}

// stopPart stops one part of the service within shutdownTimeout, adding a
// failure to *errp.
func stopPart(errp *error, logger *slog.Logger, name string, stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := stop(ctx); err != nil {
		logger.ErrorContext(ctx, "shutdown failed", "part", name, "err", err)
		*errp = errors.Join(*errp, fmt.Errorf("stop %s: %w", name, err))
		return
	}
	logger.DebugContext(ctx, "stopped", "part", name)
}

// drain lets NATS deliver what is pending and closes the connection, or
// closes it at once when ctx ends first. nats.Conn.Drain only starts the
// drain, so its end is awaited here.
func drain(ctx context.Context, nc *nats.Conn) error {
	if err := nc.Drain(); err != nil {
		nc.Close()
		if errors.Is(err, nats.ErrConnectionClosed) {
			return nil
		}
		return err
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !nc.IsClosed() {
		select {
		case <-ctx.Done():
			nc.Close()
			return fmt.Errorf("drain: %w", ctx.Err())
		case <-tick.C:
		}
	}
	return nil
}
