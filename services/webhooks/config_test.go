package main

import (
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

func TestConfig(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		env["SECRET_KEY"] = strings.Repeat("t", 40)
		return loadConfig(func(k string) string { return env[k] })
	}
	cfg, err := load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.AllowPrivate || cfg.KeepAttempts != 30*24*time.Hour || cfg.DisableAfter != 5*24*time.Hour ||
		len(cfg.Schedule) != len(webhook.DefaultSchedule) || cfg.Workers != 16 || cfg.PerEndpoint != 4 {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err = load(map[string]string{"WEBHOOK_RETRY_SCHEDULE": "1s, 2m", "WEBHOOK_KEEP_ATTEMPTS": "72h"})
	if err != nil || len(cfg.Schedule) != 2 || cfg.Schedule[1] != 2*time.Minute || cfg.KeepAttempts != 72*time.Hour {
		t.Errorf("schedule %v, keep %v: %v", cfg.Schedule, cfg.KeepAttempts, err)
	}
	for name, value := range map[string]string{
		"WEBHOOK_KEEP_ATTEMPTS":  "0s",
		"WEBHOOK_RETRY_SCHEDULE": "5s,soon",
		"WEBHOOK_WORKERS":        "0",
	} {
		if _, err := load(map[string]string{name: value}); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s=%s: err = %v, want one naming it", name, value, err)
		}
	}
}
