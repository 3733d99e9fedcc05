package main

import "github.com/supportdesk/supportdesk/pkg/config"

// Config is the tickets service's configuration, read once from the environment.
type Config struct {
	config.Common
	DatabaseURL config.Secret // DATABASE_URL (may hold a password)
	// SearchLanguage is the PostgreSQL text search configuration tickets
	// are searched in (SEARCH_LANGUAGE, default simple: no stemming, any
	// language).
	SearchLanguage string
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:         r.Common("tickets", ":8002", ""),
		DatabaseURL:    config.Secret(r.String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/support_system?sslmode=disable")),
		SearchLanguage: r.String("SEARCH_LANGUAGE", "simple"),
	}
	return cfg, r.Err()
}
