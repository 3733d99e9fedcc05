package main

import (
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/audit/internal/consumer"
)

// Config is the audit service's configuration, read once from the
// environment.
type Config struct {
	// Common holds DEBUG, LOG_LEVEL, SECRET_KEY (checked), ALGORITHM (HS256
	// only), ACCESS_TOKEN_EXPIRE_MINUTES, NATS_URL, OTEL_SERVICE_NAME and
	// OTEL_EXPORTER_OTLP_ENDPOINT.
	config.Common
	// DatabaseURL, AUDIT_DATABASE_URL, keeps the log in PostgreSQL (schema
	// audit) when set, as `make run` does; otherwise it is in MongoDB.
	DatabaseURL   config.Secret
	MongoURL      config.Secret // MONGODB_URL (may hold a password)
	MongoDatabase string        // MONGODB_DATABASE
	// BatchSize is the most events stored with one write:
	// AUDIT_BATCH_SIZE, default 1000.
	BatchSize int
	// QueryTimeout bounds each log query, AUDIT_QUERY_TIMEOUT (default
	// 10s), and MaxQueries how many run at once, AUDIT_MAX_QUERIES
	// (default 8).
	QueryTimeout time.Duration
	MaxQueries   int
	// Retention is how long the store keeps an event, by event time:
	// AUDIT_RETENTION_DAYS, default 90; 0 keeps every event.
	Retention time.Duration
	// PurgeInterval is how often old events are purged where the database
	// has no TTL index (FerretDB): AUDIT_PURGE_INTERVAL, default 1h.
	PurgeInterval time.Duration
}

// maxBatch bounds AUDIT_BATCH_SIZE: a batch is one insert, and its acks
// must all be sent well within the consumer's AckWait.
const maxBatch = 10_000

// maxRetentionDays bounds the retention settings: a TTL index takes its
// period as a 32-bit number of seconds.
const maxRetentionDays = 10_000

const day = 24 * time.Hour

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:        r.Common("audit", ":8003", ""),
		DatabaseURL:   config.Secret(r.String("AUDIT_DATABASE_URL", "")),
		MongoURL:      config.Secret(r.String("MONGODB_URL", "mongodb://127.0.0.1:27017")),
		MongoDatabase: r.String("MONGODB_DATABASE", "app_logs"),
		BatchSize:     r.Int("AUDIT_BATCH_SIZE", consumer.DefaultBatch),
		QueryTimeout:  r.Duration("AUDIT_QUERY_TIMEOUT", 10*time.Second),
		MaxQueries:    r.Int("AUDIT_MAX_QUERIES", 8),
		Retention:     days(r, "AUDIT_RETENTION_DAYS", 90),
		PurgeInterval: r.Duration("AUDIT_PURGE_INTERVAL", time.Hour),
	}
	if cfg.PurgeInterval <= 0 {
		r.Check(fmt.Errorf("AUDIT_PURGE_INTERVAL must be positive"))
	}
	if cfg.BatchSize < 1 || cfg.BatchSize > maxBatch {
		r.Check(fmt.Errorf("AUDIT_BATCH_SIZE must be from 1 to %d", maxBatch))
	}
	if cfg.QueryTimeout <= 0 {
		r.Check(fmt.Errorf("AUDIT_QUERY_TIMEOUT must be positive"))
	}
	if cfg.MaxQueries < 1 {
		r.Check(fmt.Errorf("AUDIT_MAX_QUERIES must be at least 1"))
	}
	return cfg, r.Err()
}

// days reads a number of days from 0 to maxRetentionDays.
func days(r *config.Reader, key string, def int) time.Duration {
	n := r.Int(key, def)
	if n < 0 || n > maxRetentionDays {
		r.Check(fmt.Errorf("%s must be a number of days from 0 (keep forever) to %d", key, maxRetentionDays))
		return time.Duration(def) * day
	}
	return time.Duration(n) * day
}

// LogValue lists the settings for the start-up log, secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("store", c.storeName()),
		slog.String("audit_database_url", redactURL(c.DatabaseURL.Reveal())),
		slog.String("mongodb_url", redactURL(c.MongoURL.Reveal())),
		slog.String("mongodb_database", c.MongoDatabase),
		slog.Int("batch_size", c.BatchSize),
		slog.String("query_timeout", c.QueryTimeout.String()),
		slog.Int("max_queries", c.MaxQueries),
		slog.String("retention", c.Retention.String()),
		slog.String("purge_interval", c.PurgeInterval.String()),
		slog.String("events_retention", c.EventsRetention.String()),
		slog.String("nats_url", c.NATSURL),
		slog.Bool("debug", c.Debug),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("otlp_endpoint", c.OTLPEndpoint),
		slog.String("service_name", c.ServiceName),
	)
}

// redactURL hides the password of a connection URL, keeping the rest (hosts,
// database, options) readable in logs. net/url cannot parse MongoDB's
// comma-separated host lists, hence the manual split.
func redactURL(u string) string {
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok {
		return config.Secret(u).String()
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		return u
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return u
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// storeName names the store the log is kept in, as the health checks do.
func (c Config) storeName() string {
	if c.DatabaseURL != "" {
		return "postgres"
	}
	return "mongodb"
}
