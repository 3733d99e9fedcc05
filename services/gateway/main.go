// Command gateway is the public edge of the support system: it verifies
// access tokens, enforces each route's permission and proxies to the auth,
// tickets and audit services.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/ratelimit"
	"github.com/supportdesk/supportdesk/pkg/service"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/services/gateway/internal/apilog"
	"github.com/supportdesk/supportdesk/services/gateway/internal/docs"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/guard"
	"github.com/supportdesk/supportdesk/services/gateway/internal/revoke"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

func main() { service.Main("gateway", run) }

const usage = `usage: gateway [serve]
       gateway stream
       gateway --help

The gateway: verifies access tokens and routes the public API to the services.
` + service.StreamHelp + `
Configuration comes from the environment (see .env.example).`

func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) (err error) {
	if done, err := config.CheckArgs(args, usage, stdout, "stream"); done || err != nil {
		return err
	}
	cfg, err := loadConfig(getenv)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if len(args) > 0 && args[0] == "stream" {
		return service.StreamCommand(ctx, cfg.Common, args[1:], stdout)
	}
	svc, err := service.Start(ctx, cfg.Common, stdout)
	if err != nil {
		return err
	}
	defer svc.Stop(&err)
	logger := svc.Logger
	nc, js, err := svc.NATS(ctx)
	if err != nil {
		return err
	}
	revoked := revoke.NewList(cfg.TokenTTL)
	if err := revoke.Follow(ctx, js, bus.StreamName, revoked, logger); err != nil {
		return err
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = 64
	transport.ResponseHeaderTimeout = cfg.UpstreamTimeout
	tokens := token.NewManager([]byte(cfg.SecretKey.Reveal()), cfg.TokenTTL)

	recorder, err := apilog.New(nc, apilog.DefaultSettings(cfg.APIEventBuffer), svc.Registry, logger)
	if err != nil {
		return err
	}
	svc.Add("api events", recorder.Close)
	perClient, perUser := guard.PerClient(cfg.ClientPerMinute), guard.PerUser(cfg.UserPerMinute)
	if err := svc.ShareLimits(ctx, js, map[string]*ratelimit.Keyed{
		"ratelimit.gateway.client": perClient.Buckets(), "ratelimit.gateway.user": perUser.Buckets(),
	}); err != nil {
		return err
	}
	middleware := append([]gin.HandlerFunc{recorder.Middleware(), guard.SecurityHeaders(), guard.CORS(cfg.AllowedOrigins),
		perClient.Handler(), guard.BodyLimit(cfg.MaxBodyBytes)}, edge.Middleware()...)
	engine := svc.Engine(middleware...)
	if err := edge.TrustProxies(engine, cfg.TrustedProxies); err != nil {
		return err
	}
	gw := edge.New(tokens, cfg.Upstreams, transport, revoked, logger,
		edge.WithUserLimit(perUser.Handler()))
	if err := gw.Routes(engine, route.Table()); err != nil {
		return err
	}
	health := edge.NewHealth(&http.Client{Transport: transport, Timeout: 5 * time.Second}, cfg.Upstreams,
		func(context.Context) error { return bus.Healthy(nc) })
	engine.GET("/health", health.Handle)
	if err := docs.Routes(engine); err != nil {
		return err
	}
	return svc.Serve(ctx, engine)
}
