package main

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadConfig(t *testing.T) {
	key := strings.Repeat("k", 40)
	t.Run("defaults", func(t *testing.T) {
		cfg, err := loadConfig(func(k string) string { return map[string]string{"SECRET_KEY": key}[k] })
		if err != nil {
			t.Fatal(err)
		}
		got := []any{cfg.Addr, cfg.MongoURL.Reveal(), cfg.MongoDatabase, cfg.NATSURL, cfg.TokenTTL, cfg.Debug, cfg.LogLevel, cfg.OTLPEndpoint, cfg.ServiceName}
		want := []any{":8003", "mongodb://127.0.0.1:27017", "app_logs", "nats://127.0.0.1:4222", 30 * time.Minute, false, slog.LevelInfo, "", "audit"}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("defaults (-want +got):\n%s", diff)
		}
	})
	t.Run("everything set", func(t *testing.T) {
		env := map[string]string{
			"AUDIT_ADDR": "127.0.0.1:9003", "MONGODB_URL": "mongodb://db:27017", "MONGODB_DATABASE": "logs",
			"NATS_URL": "nats://bus:4222", "SECRET_KEY": key, "ALGORITHM": "HS256", "ACCESS_TOKEN_EXPIRE_MINUTES": "5",
			"DEBUG": "true", "LOG_LEVEL": "warn", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://jaeger:4318/",
		}
		cfg, err := loadConfig(func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		got := []any{cfg.Addr, cfg.MongoURL.Reveal(), cfg.MongoDatabase, cfg.NATSURL, cfg.TokenTTL, cfg.Debug, cfg.LogLevel, cfg.OTLPEndpoint}
		want := []any{"127.0.0.1:9003", "mongodb://db:27017", "logs", "nats://bus:4222", 5 * time.Minute, true, slog.LevelWarn, "http://jaeger:4318"}
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
	var out strings.Builder
	err := run(t.Context(), func(string) string { return "" }, &out)
	if err == nil || !strings.Contains(err.Error(), "SECRET_KEY") {
		t.Errorf("run without SECRET_KEY = %v", err)
	}
}

func TestConfigLogHidesSecrets(t *testing.T) {
	env := map[string]string{"SECRET_KEY": strings.Repeat("z", 40), "MONGODB_URL": "mongodb://audit:hunter2@db1:27017,db2:27017/logs?authSource=admin"}
	cfg, err := loadConfig(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	var buf strings.Builder
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("starting", "config", cfg)
	for _, secret := range []string{"hunter2", strings.Repeat("z", 40)} {
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
