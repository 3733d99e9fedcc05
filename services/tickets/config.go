package main

import (
	"fmt"

	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// Config is the tickets service's configuration, read once from the environment.
type Config struct {
	config.Common
	DatabaseURL config.Secret // DATABASE_URL (may hold a password)
	// SearchLanguage is the PostgreSQL text search configuration tickets
	// are searched in (SEARCH_LANGUAGE, default simple: no stemming, any
	// language).
	SearchLanguage string
	// SLAPolicy is each priority's first-response and resolution targets
	// (SLA_POLICY, default ticket.DefaultPolicy; "off": no SLA clocks).
	SLAPolicy ticket.Policy
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:         r.Common("tickets", ":8002", ""),
		DatabaseURL:    config.Secret(r.String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/support_system?sslmode=disable")),
		SearchLanguage: r.String("SEARCH_LANGUAGE", "simple"),
	}
	var err error
	if cfg.SLAPolicy, err = ticket.ParsePolicy(r.String("SLA_POLICY", ticket.DefaultPolicy)); err != nil {
		r.Check(fmt.Errorf("SLA_POLICY: %w", err))
	}
	return cfg, r.Err()
}
