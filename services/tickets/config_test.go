package main

import (
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

func TestConfigSLAPolicy(t *testing.T) {
	load := func(env map[string]string) (Config, error) {
		env["SECRET_KEY"] = strings.Repeat("t", 40)
		return loadConfig(func(k string) string { return env[k] })
	}
	cfg, err := load(map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.SLAPolicy) != 4 || cfg.SLAPolicy[ticket.PriorityUrgent] != (ticket.Targets{FirstResponse: time.Hour, Resolution: 4 * time.Hour}) {
		t.Errorf("default SLA policy = %v", cfg.SLAPolicy)
	}
	if cfg, err := load(map[string]string{"SLA_POLICY": "off"}); err != nil || len(cfg.SLAPolicy) != 0 {
		t.Errorf("SLA_POLICY=off: %v, %v", cfg.SLAPolicy, err)
	}
	if _, err := load(map[string]string{"SLA_POLICY": "urgent=1h"}); err == nil || !strings.Contains(err.Error(), "SLA_POLICY") {
		t.Errorf("a bad SLA_POLICY: err = %v", err)
	}
}
