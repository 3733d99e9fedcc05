package config

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Common are the settings every service reads, under the seed's names where
// the seed had them.
type Common struct {
	ServiceName  string        // OTEL_SERVICE_NAME, default the service's name
	Debug        bool          // DEBUG
	LogLevel     slog.Level    // LOG_LEVEL: debug, info, warn, error
	SecretKey    Secret        // SECRET_KEY: HMAC key of the access tokens
	TokenTTL     time.Duration // ACCESS_TOKEN_EXPIRE_MINUTES
	NATSURL      string        // NATS_URL
	OTLPEndpoint string        // OTEL_EXPORTER_OTLP_ENDPOINT; empty: no export
	Addr         string        // <SERVICE>_ADDR, e.g. TICKETS_ADDR: where the API listens
	// AdminAddr is the internal listener of the profiler and the metrics
	// (<SERVICE>_ADMIN_ADDR, e.g. TICKETS_ADMIN_ADDR; "off" or empty: none,
	// and the metrics are on the service's own port). It must never be
	// reachable from outside: bind it to loopback or a private interface.
	AdminAddr string
	// EventsRetention is the max age of the event stream
	// (EVENTS_RETENTION_DAYS, default 30; 0 keeps every event). Every
	// service ensures the stream at start-up, so all must agree on it.
	EventsRetention time.Duration
	// StreamReplicas is how many copies of the event stream a JetStream
	// cluster keeps (STREAM_REPLICAS, default 1). A service creates the
	// stream with it when the stream is missing; `<service> stream`
	// applies it and EventsRetention to an existing one.
	StreamReplicas int
}

// Common reads the settings every service shares; addr and adminAddr are
// the defaults of the service's API address and admin listener.
func (r *Reader) Common(service, addr, adminAddr string) Common {
	c := Common{
		ServiceName:  r.String("OTEL_SERVICE_NAME", service),
		Debug:        r.Bool("DEBUG", false),
		SecretKey:    Secret(r.String("SECRET_KEY", "")),
		TokenTTL:     time.Duration(r.Int("ACCESS_TOKEN_EXPIRE_MINUTES", 30)) * time.Minute,
		NATSURL:      r.String("NATS_URL", "nats://127.0.0.1:4222"),
		OTLPEndpoint: strings.TrimSuffix(r.String("OTEL_EXPORTER_OTLP_ENDPOINT", ""), "/"),
		Addr:         r.String(strings.ToUpper(service)+"_ADDR", addr),
		AdminAddr:    r.String(strings.ToUpper(service)+"_ADMIN_ADDR", adminAddr),
	}
	if c.AdminAddr == "off" {
		c.AdminAddr = ""
	}
	days := r.Int("EVENTS_RETENTION_DAYS", 30)
	if days < 0 || days > 10_000 {
		r.Check(fmt.Errorf("EVENTS_RETENTION_DAYS must be a number of days from 0 (keep forever) to 10000"))
	}
	c.EventsRetention = time.Duration(days) * 24 * time.Hour
	if c.StreamReplicas = r.Int("STREAM_REPLICAS", 1); c.StreamReplicas < 1 || c.StreamReplicas > 5 {
		r.Check(fmt.Errorf("STREAM_REPLICAS must be from 1 to 5 (JetStream's limit)"))
	}
	if err := c.LogLevel.UnmarshalText([]byte(r.String("LOG_LEVEL", "info"))); err != nil {
		r.Check(fmt.Errorf("LOG_LEVEL must be debug, info, warn or error"))
	}
	if alg := r.String("ALGORITHM", "HS256"); alg != "HS256" {
		r.Check(fmt.Errorf("ALGORITHM %q is not supported; only HS256 is", alg))
	}
	if c.TokenTTL <= 0 {
		r.Check(fmt.Errorf("ACCESS_TOKEN_EXPIRE_MINUTES must be positive"))
	}
	r.Check(CheckSecretKey(c.SecretKey, c.Debug))
	return c
}
