package main

import (
	"fmt"
	"net/url"

	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// Config is the gateway's configuration, read once from the environment.
type Config struct {
	config.Common
	Addr      string                      // GATEWAY_ADDR
	Upstreams map[route.Upstream]*url.URL // AUTH_URL, TICKETS_URL, AUDIT_URL
	// APIEventBuffer bounds the api.request events waiting to be published
	// (API_EVENT_BUFFER); past it, events are dropped and counted.
	APIEventBuffer int
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:         r.Common("gateway"),
		Addr:           r.String("GATEWAY_ADDR", ":8000"),
		Upstreams:      map[route.Upstream]*url.URL{},
		APIEventBuffer: r.Int("API_EVENT_BUFFER", 4096),
	}
	if cfg.APIEventBuffer < 1 {
		r.Check(fmt.Errorf("API_EVENT_BUFFER must be positive"))
	}
	for name, def := range map[route.Upstream]struct{ key, url string }{
		route.Auth:    {"AUTH_URL", "http://127.0.0.1:8001"},
		route.Tickets: {"TICKETS_URL", "http://127.0.0.1:8002"},
		route.Audit:   {"AUDIT_URL", "http://127.0.0.1:8003"},
	} {
		raw := r.String(def.key, def.url)
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			r.Check(fmt.Errorf("%s: %q is not an http(s) URL", def.key, raw))
			continue
		}
		cfg.Upstreams[name] = u
	}
	return cfg, r.Err()
}
