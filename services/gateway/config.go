package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// Config is the gateway's configuration, read once from the environment.
type Config struct {
	config.Common
	Upstreams map[route.Upstream]*url.URL // AUTH_URL, TICKETS_URL, AUDIT_URL, WEBHOOKS_URL
	// APIEventBuffer bounds the api.request events waiting to be published
	// (API_EVENT_BUFFER); past it, events are dropped and counted.
	APIEventBuffer int
	// Protection: requests a minute per client address and per user
	// (RATE_LIMIT_CLIENT_PER_MINUTE, RATE_LIMIT_USER_PER_MINUTE), the
	// largest request body (MAX_BODY_BYTES), and the origins browsers may
	// call from (CORS_ALLOWED_ORIGINS, comma-separated; "*" is refused).
	ClientPerMinute int
	UserPerMinute   int
	MaxBodyBytes    int64
	AllowedOrigins  []string
	// UpstreamTimeout bounds the wait for an upstream's response headers
	// (UPSTREAM_TIMEOUT, default 15s): 504 past it. A response that streams
	// after its headers (the CSV export) is not cut.
	UpstreamTimeout time.Duration
	// TrustedProxies are the addresses or CIDRs of the proxies in front of
	// the gateway whose X-Forwarded-For it believes (TRUSTED_PROXIES,
	// comma-separated; default none: the client is the peer).
	TrustedProxies []string
}

func loadConfig(getenv func(string) string) (Config, error) {
	r := config.NewReader(getenv)
	cfg := Config{
		Common:         r.Common("gateway", ":8000", "127.0.0.1:8010"),
		Upstreams:      map[route.Upstream]*url.URL{},
		APIEventBuffer: r.Int("API_EVENT_BUFFER", 4096),
	}
	if cfg.APIEventBuffer < 1 {
		r.Check(fmt.Errorf("API_EVENT_BUFFER must be positive"))
	}
	cfg.ClientPerMinute = r.Int("RATE_LIMIT_CLIENT_PER_MINUTE", 1200)
	cfg.UserPerMinute = r.Int("RATE_LIMIT_USER_PER_MINUTE", 600)
	cfg.MaxBodyBytes = int64(r.Int("MAX_BODY_BYTES", 1<<20))
	cfg.UpstreamTimeout = r.Duration("UPSTREAM_TIMEOUT", 15*time.Second)
	if cfg.UpstreamTimeout <= 0 {
		r.Check(fmt.Errorf("UPSTREAM_TIMEOUT must be a positive duration, like 15s"))
	}
	if cfg.ClientPerMinute < 1 || cfg.UserPerMinute < 1 || cfg.MaxBodyBytes < 1 {
		r.Check(fmt.Errorf("RATE_LIMIT_CLIENT_PER_MINUTE, RATE_LIMIT_USER_PER_MINUTE and MAX_BODY_BYTES must be positive"))
	}
	for _, o := range strings.Split(r.String("CORS_ALLOWED_ORIGINS", ""), ",") {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
		case o == "*":
			r.Check(fmt.Errorf("CORS_ALLOWED_ORIGINS: list the origins; \"*\" is not allowed"))
		case !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://"):
			r.Check(fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an http(s) origin", o))
		default:
			cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
		}
	}
	for _, p := range strings.Split(r.String("TRUSTED_PROXIES", ""), ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if _, err := netip.ParsePrefix(p); err != nil {
			if _, err := netip.ParseAddr(p); err != nil {
				r.Check(fmt.Errorf("TRUSTED_PROXIES: %q is neither an address nor a CIDR", p))
				continue
			}
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, p)
	}
	for name, def := range map[route.Upstream]struct{ key, url string }{
		route.Auth:     {"AUTH_URL", "http://127.0.0.1:8001"},
		route.Tickets:  {"TICKETS_URL", "http://127.0.0.1:8002"},
		route.Audit:    {"AUDIT_URL", "http://127.0.0.1:8003"},
		route.Webhooks: {"WEBHOOKS_URL", "http://127.0.0.1:8004"},
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
