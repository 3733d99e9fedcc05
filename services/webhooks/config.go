package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

// Config is the webhooks service's configuration, read once from the
// environment.
type Config struct {
	config.Common
	DatabaseURL config.Secret // DATABASE_URL (may hold a password)
	// AllowPrivate lets webhooks reach loopback, private and link-local
	// addresses (WEBHOOK_ALLOW_PRIVATE, default false): development only.
	AllowPrivate bool
	// Schedule is when failed deliveries are tried again
	// (WEBHOOK_RETRY_SCHEDULE, comma-separated durations, default
	// 5s,5m,30m,2h,5h,10h,10h).
	Schedule []time.Duration
	// DisableAfter deactivates an endpoint failing that long
	// (WEBHOOK_DISABLE_AFTER, default 120h).
	DisableAfter time.Duration
	// Workers and PerEndpoint bound the attempts in flight, in all and
	// per endpoint (WEBHOOK_WORKERS 16, WEBHOOK_PER_ENDPOINT 4; per replica).
	Workers     int
	PerEndpoint int
	// KeepAttempts is how long delivery attempts are kept for
	// GET /admin/webhooks/{id}/deliveries (WEBHOOK_KEEP_ATTEMPTS, default
	// 720h: 30 days); older ones are deleted every hour.
	KeepAttempts time.Duration
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:       r.Common("webhooks", ":8004", ""),
		DatabaseURL:  config.Secret(r.String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/support_system?sslmode=disable")),
		AllowPrivate: r.Bool("WEBHOOK_ALLOW_PRIVATE", false),
		DisableAfter: r.Duration("WEBHOOK_DISABLE_AFTER", 120*time.Hour),
		Workers:      r.Int("WEBHOOK_WORKERS", 16),
		PerEndpoint:  r.Int("WEBHOOK_PER_ENDPOINT", 4),
		KeepAttempts: r.Duration("WEBHOOK_KEEP_ATTEMPTS", 720*time.Hour),
	}
	if cfg.Workers < 1 || cfg.PerEndpoint < 1 || cfg.DisableAfter <= 0 || cfg.KeepAttempts <= 0 {
		r.Check(fmt.Errorf("WEBHOOK_WORKERS, WEBHOOK_PER_ENDPOINT, WEBHOOK_DISABLE_AFTER and WEBHOOK_KEEP_ATTEMPTS must be positive"))
	}
	if raw := r.String("WEBHOOK_RETRY_SCHEDULE", ""); raw == "" {
		cfg.Schedule = webhook.DefaultSchedule
	} else {
		for part := range strings.SplitSeq(raw, ",") {
			d, err := time.ParseDuration(strings.TrimSpace(part))
			if err != nil || d <= 0 {
				r.Check(fmt.Errorf("WEBHOOK_RETRY_SCHEDULE: %q is not a positive duration such as 5m", part))
				continue
			}
			cfg.Schedule = append(cfg.Schedule, d)
		}
	}
	return cfg, r.Err()
}
