package main

import (
	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

// Config is the auth service's configuration, read once from the environment.
type Config struct {
	config.Common
	DatabaseURL config.Secret // DATABASE_URL (may hold a password)
	Seeds       []user.Seed   // INITIAL_{ADMIN,STAFF,USER}_{EMAIL,PASSWORD}
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:      r.Common("auth", ":8001", ""),
		DatabaseURL: config.Secret(r.String("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/support_system?sslmode=disable")),
	}
	// The seed's bootstrap: the user account gets fixed example profile data.
	inn, phone, first, last := "123456789012", "+7-900-123-4567", "Test", "User"
	cfg.Seeds = []user.Seed{
		{Role: access.RoleAdmin, Email: r.String("INITIAL_ADMIN_EMAIL", ""), Password: r.String("INITIAL_ADMIN_PASSWORD", "")},
		{Role: access.RoleStaff, Email: r.String("INITIAL_STAFF_EMAIL", ""), Password: r.String("INITIAL_STAFF_PASSWORD", "")},
		{Role: access.RoleUser, Email: r.String("INITIAL_USER_EMAIL", ""), Password: r.String("INITIAL_USER_PASSWORD", ""),
			Profile: user.Profile{INN: &inn, Phone: &phone, FirstName: &first, LastName: &last}},
	}
	return cfg, r.Err()
}
