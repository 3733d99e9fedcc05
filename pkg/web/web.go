// Package web holds the Gin plumbing every service shares: an engine with
// tracing, metrics, recovery and problem+json errors; bearer-token
// authentication and permission checks; strict JSON binding; health
// endpoints; and an HTTP server with timeouts and graceful shutdown.
package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/problem"
)

// Gin runs in release mode in every service: its debug mode only prints
// each route as it is registered. Set once, when the package loads, so
// that no call changes it under another.
func init() { gin.SetMode(gin.ReleaseMode) }

// NewEngine returns a Gin engine with tracing (a server span of the global
// tracer provider per request), request metrics registered on reg, panic
// recovery and problem+json 404/405 answers. It trusts no proxy: a client's
// address is its peer's (gin would believe any X-Forwarded-For otherwise).
func NewEngine(logger *slog.Logger, reg *prometheus.Registry) *gin.Engine {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = false
	e.ContextWithFallback = true
	if err := e.SetTrustedProxies(nil); err != nil {
		panic(err) // nil is always valid
	}

	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	e.Use(tracing(otel.GetTracerProvider()), metrics(reg), recovery(logger))
	e.NoRoute(func(c *gin.Context) {
		problem.WriteError(c.Writer, c.Request, logger, fault.New(fault.NotFound, "not_found", "No route matches "+c.Request.URL.Path))
	})
	e.NoMethod(func(c *gin.Context) {
		problem.WriteError(c.Writer, c.Request, logger, fault.New(fault.NotAllowed, "method_not_allowed",
			"Method "+c.Request.Method+" is not allowed on "+c.Request.URL.Path))
	})
	return e
}

// MetricsRoute serves reg at /metrics on e.
func MetricsRoute(e *gin.Engine, reg *prometheus.Registry) {
	e.GET("/metrics", gin.WrapH(promhttp.HandlerFor(reg, promhttp.HandlerOpts{})))
}

func metrics(reg *prometheus.Registry) gin.HandlerFunc {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total",
		Help: "HTTP requests by method, route template and status.",
	}, []string{"method", "route", "status"})
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "http_request_duration_seconds",
		Help:    "HTTP request latency by method and route template.",
		Buckets: prometheus.DefBuckets,
	}, []string{"method", "route"})
	reg.MustRegister(requests, latency)
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		route := c.FullPath()
		if route == "" {
			route = "unmatched"
		}
		requests.WithLabelValues(c.Request.Method, route, strconv.Itoa(c.Writer.Status())).Inc()
		latency.WithLabelValues(c.Request.Method, route).Observe(time.Since(start).Seconds())
	}
}

func recovery(logger *slog.Logger) gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				Error(c, logger, fmt.Errorf("panic: %v", v))
			}
		}()
		c.Next()
	}
}

// Error answers the request with the problem for err and stops the chain.
func Error(c *gin.Context, logger *slog.Logger, err error) {
	problem.WriteError(c.Writer, c.Request, logger, err)
	c.Abort()
}

// MaxHeaderBytes bounds the headers of a request (431 beyond): far above
// what a client of the API sends (a token is half a kilobyte), far below
// the megabyte net/http allows by default.
const MaxHeaderBytes = 32 << 10

// NewServer returns an HTTP server for h with timeouts on every phase of a
// request, so that slow or idle clients cannot hold connections open, and
// bounded headers.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    MaxHeaderBytes,
	}
}

// Serve runs h on addr until ctx is cancelled, then lets in-flight requests
// finish for up to grace. Timeouts keep slow clients from holding
// connections open.
func Serve(ctx context.Context, addr string, h http.Handler, grace time.Duration, logger *slog.Logger) error {
	srv := NewServer(addr, h)
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	logger.InfoContext(ctx, "listening", "addr", ln.Addr().String())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down %s: %w", addr, err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
