package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/service"
)

func TestLoadConfig(t *testing.T) {
	key := strings.Repeat("k", 40)
	t.Run("defaults", func(t *testing.T) {
		cfg, err := loadConfig(func(k string) string { return map[string]string{"SECRET_KEY": key}[k] })
		if err != nil {
			t.Fatal(err)
		}
		got := []any{cfg.Addr, cfg.MongoURL.Reveal(), cfg.MongoDatabase, cfg.NATSURL, cfg.TokenTTL, cfg.Debug, cfg.LogLevel, cfg.OTLPEndpoint, cfg.ServiceName,
			cfg.Retention, cfg.PurgeInterval, cfg.EventsRetention, cfg.DatabaseURL.Reveal(), cfg.BatchSize, cfg.QueryTimeout, cfg.MaxQueries, cfg.storeName()}
		want := []any{":8003", "mongodb://127.0.0.1:27017", "app_logs", "nats://127.0.0.1:4222", 30 * time.Minute, false, slog.LevelInfo, "", "audit",
			90 * 24 * time.Hour, time.Hour, 30 * 24 * time.Hour, "", 1000, 10 * time.Second, 8, "mongodb"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
	})
	t.Run("everything set", func(t *testing.T) {
		env := map[string]string{
			"AUDIT_ADDR": "127.0.0.1:9003", "MONGODB_URL": "mongodb://db:27017", "MONGODB_DATABASE": "logs",
			"NATS_URL": "nats://bus:4222", "SECRET_KEY": key, "ALGORITHM": "HS256", "ACCESS_TOKEN_EXPIRE_MINUTES": "5",
			"DEBUG": "true", "LOG_LEVEL": "warn", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318/",
			"AUDIT_RETENTION_DAYS": "7", "AUDIT_PURGE_INTERVAL": "5m", "EVENTS_RETENTION_DAYS": "60",
			"AUDIT_DATABASE_URL": "postgres://audit:pw@db/logs", "AUDIT_BATCH_SIZE": "64", "AUDIT_QUERY_TIMEOUT": "3s", "AUDIT_MAX_QUERIES": "2",
		}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		got := []any{cfg.Addr, cfg.MongoURL.Reveal(), cfg.MongoDatabase, cfg.NATSURL, cfg.TokenTTL, cfg.Debug, cfg.LogLevel, cfg.OTLPEndpoint,
			cfg.Retention, cfg.PurgeInterval, cfg.EventsRetention, cfg.DatabaseURL.Reveal(), cfg.BatchSize, cfg.QueryTimeout, cfg.MaxQueries, cfg.storeName()}
		want := []any{"127.0.0.1:9003", "mongodb://db:27017", "logs", "nats://bus:4222", 5 * time.Minute, true, slog.LevelWarn, "http://jaeger:4318",
			7 * 24 * time.Hour, 5 * time.Minute, 60 * 24 * time.Hour, "postgres://audit:pw@db/logs", 64, 3 * time.Second, 2, "postgres"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("config (-want +got):\n%s", diff)
		}
	})

	tests := []struct {
		name string
		env  map[string]string
		want string // in the error; "" means no error
	}{
		{"no secret", map[string]string{}, "SECRET_KEY"},
		{"short secret", map[string]string{"SECRET_KEY": "short"}, "SECRET_KEY"},
		{"short secret in debug", map[string]string{"SECRET_KEY": "short", "DEBUG": "true"}, ""},
		{"published example", map[string]string{"SECRET_KEY": "dev-only-insecure-secret-key-change-me-0123456789"}, "SECRET_KEY"},
		{"RS256", map[string]string{"SECRET_KEY": key, "ALGORITHM": "RS256"}, "ALGORITHM"},
		{"bad log level", map[string]string{"SECRET_KEY": key, "LOG_LEVEL": "loud"}, "LOG_LEVEL"},
		{"bad debug", map[string]string{"SECRET_KEY": key, "DEBUG": "yes please"}, "DEBUG"},
		{"bad minutes", map[string]string{"SECRET_KEY": key, "ACCESS_TOKEN_EXPIRE_MINUTES": "soon"}, "ACCESS_TOKEN_EXPIRE_MINUTES"},
		{"keep forever", map[string]string{"SECRET_KEY": key, "AUDIT_RETENTION_DAYS": "0", "EVENTS_RETENTION_DAYS": "0"}, ""},
		{"negative retention", map[string]string{"SECRET_KEY": key, "AUDIT_RETENTION_DAYS": "-1"}, "AUDIT_RETENTION_DAYS"},
		{"retention past a 32-bit TTL", map[string]string{"SECRET_KEY": key, "AUDIT_RETENTION_DAYS": "30000"}, "AUDIT_RETENTION_DAYS"},
		{"retention not a number", map[string]string{"SECRET_KEY": key, "AUDIT_RETENTION_DAYS": "90d"}, "AUDIT_RETENTION_DAYS"},
		{"zero purge interval", map[string]string{"SECRET_KEY": key, "AUDIT_PURGE_INTERVAL": "0s"}, "AUDIT_PURGE_INTERVAL"},
		{"bad purge interval", map[string]string{"SECRET_KEY": key, "AUDIT_PURGE_INTERVAL": "hourly"}, "AUDIT_PURGE_INTERVAL"},
		{"negative stream retention", map[string]string{"SECRET_KEY": key, "EVENTS_RETENTION_DAYS": "-3"}, "EVENTS_RETENTION_DAYS"},
		{"batch of 0", map[string]string{"SECRET_KEY": key, "AUDIT_BATCH_SIZE": "0"}, "AUDIT_BATCH_SIZE"},
		{"batch too big", map[string]string{"SECRET_KEY": key, "AUDIT_BATCH_SIZE": "100000"}, "AUDIT_BATCH_SIZE"},
		{"zero query timeout", map[string]string{"SECRET_KEY": key, "AUDIT_QUERY_TIMEOUT": "0s"}, "AUDIT_QUERY_TIMEOUT"},
		{"no queries", map[string]string{"SECRET_KEY": key, "AUDIT_MAX_QUERIES": "0"}, "AUDIT_MAX_QUERIES"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfig(func(k string) string { return tt.env[k] })
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("loadConfig: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("loadConfig error = %v, want one naming %s", err, tt.want)
			}
		})
	}
}

func TestRunRefusesABadConfig(t *testing.T) {
	for _, args := range [][]string{nil, {"serve"}, {"replay", "--since=1h"}} {
		var out strings.Builder
		err := run(t.Context(), args, func(string) string { return "" }, &out)
		if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
			t.Errorf("run %q without SECRET_KEY = %v", args, err)
		}
	}
}

func TestRunRefusesBadArguments(t *testing.T) {
	env := func(k string) string { return map[string]string{"SECRET_KEY": strings.Repeat("k", 40)}[k] }
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serv"}, "usage"},
		{[]string{"serve", "now"}, "usage"},
		{[]string{"replay"}, "--since is required"},
		{[]string{"replay", "--since="}, "--since is required"},
		{[]string{"replay", "--since=yesterday"}, "neither an RFC 3339 time nor a positive duration"},
		{[]string{"replay", "--since=-5h"}, "neither"},
		{[]string{"replay", "--since=1h", "extra"}, "unexpected arguments"},
		{[]string{"replay", "--until=1h"}, "flag provided but not defined"},
	} {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out strings.Builder
			err := run(t.Context(), tt.args, env, &out)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("run = %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 3, 14, 15, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		in   string
		want time.Time
	}{
		{"72h", now.Add(-72 * time.Hour)},
		{"90m", now.Add(-90 * time.Minute)},
		{"2026-03-01T00:00:00Z", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-03-01T02:00:00.5+02:00", time.Date(2026, 3, 1, 0, 0, 0, 500_000_000, time.UTC)},
	} {
		got, err := parseSince(tt.in, now)
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestStreamConfig(t *testing.T) {
	key := strings.Repeat("k", 40)
	for _, tt := range []struct {
		days string
		want time.Duration
	}{{"", 30 * 24 * time.Hour}, {"60", 60 * 24 * time.Hour}, {"0", 0}} {
		cfg, err := loadConfig(func(k string) string {
			return map[string]string{"SECRET_KEY": key, "EVENTS_RETENTION_DAYS": tt.days}[k]
		})
		if err != nil {
			t.Fatal(err)
		}
		want := bus.DefaultStream()
		want.MaxAge = tt.want
		if diff := cmp.Diff(want, service.Stream(cfg.Common)); diff != "" {
			t.Errorf("EVENTS_RETENTION_DAYS=%q: stream (-want +got):\n%s", tt.days, diff)
		}
	}
}

func TestConfigLogHidesSecrets(t *testing.T) {
	env := map[string]string{"SECRET_KEY": strings.Repeat("z", 40), "MONGODB_URL": "mongodb://audit:hunter2@db1:27017,db2:27017/logs?authSource=admin",
		"AUDIT_DATABASE_URL": "postgres://audit:swordfish@pg:5432/logs"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", cfg)
	for _, secret := range []string{"hunter2", "swordfish", strings.Repeat("z", 40)} {
		if strings.Contains(buf.String(), secret) {
			t.Errorf("log shows a secret: %s", buf.String())
		}
	}
	if !strings.Contains(buf.String(), "db1:27017,db2:27017/logs") {
		t.Errorf("log hides the MongoDB hosts: %s", buf.String())
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"mongodb://127.0.0.1:27017", "mongodb://127.0.0.1:27017"},
		{"mongodb://user:pw@h:1/db", "mongodb://user:xxxxx@h:1/db"},
		{"mongodb://user@h:1/db", "mongodb://user@h:1/db"},
		{"mongodb+srv://u:p@ss@cluster.example/?w=majority", "mongodb+srv://u:xxxxx@cluster.example/?w=majority"},
		{"mongodb://h:1/db?note=a@b", "mongodb://h:1/db?note=a@b"},
		{"not a url with a password", "********"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			if got := redactURL(tt.in); got != tt.want {
				t.Errorf("redactURL(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
