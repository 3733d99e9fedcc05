package main

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.opentelemetry.io/otel"

	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
	"github.com/supportdesk/supportdesk/services/audit/internal/mongostore"
	"github.com/supportdesk/supportdesk/services/audit/internal/postgres"
)

// store is the audit log's storage, whichever database keeps it.
type store interface {
	audit.Store
	audit.Expirer
}

// openedStore is the store the configuration names, ready to use.
type openedStore struct {
	store
	name  string    // the database, as the health checks name it
	check web.Check // whether it answers
	// retention says how entries past the retention period go (see
	// startRetention).
	retention func(ctx context.Context, keep time.Duration) (audit.Retention, error)
	// afterLoad readies the store for queries after a bulk load.
	afterLoad func(ctx context.Context) error
	close     func(ctx context.Context) error
}

// openStore opens the store of cfg and readies it: PostgreSQL (when
// AUDIT_DATABASE_URL is set) is migrated, MongoDB gets its indexes.
func openStore(ctx context.Context, cfg Config) (*openedStore, error) {
	if cfg.DatabaseURL != "" {
		pool, err := postgres.Migrations.Open(ctx, cfg.DatabaseURL.Reveal())
		if err != nil {
			return nil, fmt.Errorf("audit database: %w", err)
		}
		s := postgres.New(pool)
		return &openedStore{
			store: s,
			name:  "postgres",
			check: s.Ping,
			// PostgreSQL has no TTL: the purge removes old entries.
			retention: func(context.Context, time.Duration) (audit.Retention, error) {
				if cfg.Retention <= 0 {
					return audit.KeepForever, nil
				}
				return audit.ByPurge, nil
			},
			afterLoad: s.Vacuum,
			close:     func(context.Context) error { pool.Close(); return nil },
		}, nil
	}
	client, err := connectMongo(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := mongostore.New(client.Database(cfg.MongoDatabase))
	// The store may be new or emptied: give it its indexes before filling it.
	if err := withTimeout(ctx, s.EnsureIndexes); err != nil {
		_ = withTimeout(context.WithoutCancel(ctx), client.Disconnect)
		return nil, err
	}
	return &openedStore{
		store:     s,
		name:      "mongodb",
		check:     func(ctx context.Context) error { return client.Ping(ctx, nil) },
		retention: s.EnsureRetention,
		afterLoad: func(context.Context) error { return nil },
		close:     client.Disconnect,
	}, nil
}

// connectMongo connects to MongoDB and pings it, so that a wrong URL fails
// the start rather than the first request.
func connectMongo(ctx context.Context, cfg Config) (*mongo.Client, error) {
	// The defaults come first so that options in the URL (such as
	// serverSelectionTimeoutMS) override them.
	client, err := mongo.Connect(options.Client().
		SetAppName(cfg.ServiceName).
		SetServerSelectionTimeout(mongoSelectTimeout).
		ApplyURI(cfg.MongoURL.Reveal()).
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
