// Command gateway is the public edge of the support system: it verifies
// access tokens, enforces each route's permission and proxies to the auth,
// tickets and audit services.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/lifecycle"
	"github.com/supportdesk/supportdesk/pkg/telemetry"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/apilog"
	"github.com/supportdesk/supportdesk/services/gateway/internal/docs"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/guard"
	"github.com/supportdesk/supportdesk/services/gateway/internal/revoke"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil // stopped while starting: a clean stop
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

const usage = `usage: gateway [serve]
       gateway --help

The gateway: verifies access tokens and routes the public API to the services.
Configuration comes from the environment (see .env.example).`

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if done, err := config.CheckArgs(args, usage, stdout); done || err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	logger := telemetry.NewLogger(stdout, cfg.LogLevel, cfg.ServiceName)
	logger.InfoContext(ctx, "starting", "addr", cfg.Addr, "nats", cfg.NATSURL, "debug", cfg.Debug)
	// Each part's stop is deferred as it starts: they stop in reverse.
	parts := lifecycle.New(logger, 10*time.Second)
	shutdownTracing, err := telemetry.Setup(ctx, telemetry.Config{ServiceName: cfg.ServiceName, Endpoint: cfg.OTLPEndpoint})
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "telemetry", shutdownTracing)

	nc, js, err := bus.Open(ctx, cfg.NATSURL, cfg.ServiceName, cfg.EventsRetention)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "nats", func(ctx context.Context) error { return bus.Drain(ctx, nc) })
	revoked := revoke.NewList(cfg.TokenTTL)
	if err := revoke.Follow(ctx, js, bus.StreamName, revoked, logger); err != nil {
		return err
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = cfg.UpstreamTimeout
	tokens := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)

	reg := prometheus.NewRegistry()
	engine := web.NewEngine(cfg.ServiceName, logger, reg)
	// The client's address is the peer's: no proxy in front is trusted to
	// tell another one.
	if err := engine.SetTrustedProxies(nil); err != nil {
		return err
	}
	recorder, err := apilog.New(nc, apilog.DefaultSettings(cfg.APIEventBuffer), reg, logger)
	if err != nil {
		return err
	}
	defer parts.Stop(&err, "api events", recorder.Close)
	engine.Use(recorder.Middleware(), guard.SecurityHeaders(), guard.CORS(cfg.AllowedOrigins),
		guard.PerClient(cfg.ClientPerMinute).Handler(), guard.BodyLimit(cfg.MaxBodyBytes))
	engine.Use(edge.Middleware()...)
	gw := edge.New(tokens, cfg.Upstreams, transport, revoked, logger,
		edge.WithUserLimit(guard.PerUser(cfg.UserPerMinute).Handler()))
	if err := gw.Routes(engine, route.Table()); err != nil {
		return err
	}
	health := edge.NewHealth(&http.Client{Transport: transport, Timeout: 5 * time.Second}, cfg.Upstreams,
		func(context.Context) error { return bus.Healthy(nc) })
	engine.GET("/health", health.Handle)
	if err := docs.Routes(engine); err != nil {
		return err
	}
	web.HealthRoutes(engine, map[string]web.Check{"nats": func(context.Context) error { return bus.Healthy(nc) }})
	return web.Serve(ctx, cfg.Addr, engine, 10*time.Second, logger)
}
