package main

import (
	"log/slog"
	"strings"

	"github.com/supportdesk/supportdesk/pkg/config"
)

// Config is the audit service's configuration, read once from the
// environment.
type Config struct {
	// Common holds DEBUG, LOG_LEVEL, SECRET_KEY (checked), ALGORITHM (HS256
	// only), ACCESS_TOKEN_EXPIRE_MINUTES, NATS_URL, OTEL_SERVICE_NAME and
	// OTEL_EXPORTER_OTLP_ENDPOINT.
	config.Common
	Addr          string        // AUDIT_ADDR
	MongoURL      config.Secret // MONGODB_URL (may hold a password)
	MongoDatabase string        // MONGODB_DATABASE
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:        r.Common("audit"),
		Addr:          r.String("AUDIT_ADDR", ":8003"),
		MongoURL:      config.Secret(r.String("MONGODB_URL", "mongodb://127.0.0.1:27017")),
		MongoDatabase: r.String("MONGODB_DATABASE", "app_logs"),
	}
	return cfg, r.Err()
}

// LogValue lists the settings for the start-up log, secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("addr", c.Addr),
		slog.String("mongodb_url", redactURL(c.MongoURL.Reveal())),
		slog.String("mongodb_database", c.MongoDatabase),
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
