// Package apilog publishes one support.api.request event per API call seen
// by the gateway. The gateway has no database, so events go through a
// bounded buffer to background publishers: a request never waits for the
// bus, and when the buffer is full the event is dropped, counted and logged.
package apilog

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/web"
)

// Publisher sends one event to the bus.
type Publisher interface {
	Publish(ctx context.Context, ev events.Event) error
}

// Recorder buffers and publishes API request events.
type Recorder struct {
	buf       chan events.Event
	pub       Publisher
	logger    *slog.Logger
	dropped   prometheus.Counter
	failed    prometheus.Counter
	nDropped  atomic.Int64
	lastWarn  atomic.Int64 // unix nanos of the last drop warning
	workers   sync.WaitGroup
	closeOnce sync.Once
}

// New returns a Recorder holding up to size events, publishing with
// workers goroutines, and registers its counters on reg.
func New(pub Publisher, size, workers int, reg prometheus.Registerer, logger *slog.Logger) *Recorder {
	r := &Recorder{
		buf:    make(chan events.Event, size),
		pub:    pub,
		logger: logger,
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_api_events_dropped_total",
			Help: "API request events dropped because the publish buffer was full.",
		}),
		failed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_api_events_failed_total",
			Help: "API request events the bus refused or did not acknowledge.",
		}),
	}
	reg.MustRegister(r.dropped, r.failed, prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gateway_api_events_buffered",
		Help: "API request events waiting to be published.",
	}, func() float64 { return float64(len(r.buf)) }))
	for range workers {
		r.workers.Go(r.publishLoop)
	}
	return r
}

// Dropped returns how many events were dropped so far.
func (r *Recorder) Dropped() int64 { return r.nDropped.Load() }

// Middleware records every request that passes through it, after it is
// answered. It must come after tracing (for the trace id) and before
// authentication (it reads the claims afterwards).
func (r *Recorder) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		r.record(c, time.Since(start))
	}
}

func (r *Recorder) record(c *gin.Context, took time.Duration) {
	route := c.FullPath()
	switch {
	case route == "":
		route = "unmatched"
	case route == "/metrics" || strings.HasPrefix(route, "/health"):
		return // probes, not API calls
	}
	data := events.APIRequest{
		Method:      c.Request.Method,
		Route:       route,
		Path:        c.Request.URL.Path, // never the query string: it may carry tokens
		StatusCode:  c.Writer.Status(),
		ProcessTime: took.Seconds(),
		IPAddress:   c.ClientIP(),
		UserAgent:   c.Request.UserAgent(),
		RequestID:   c.Writer.Header().Get("X-Request-Id"),
		TraceID:     problem.TraceID(c.Request.Context()),
	}
	var actor events.Actor
	if claims := web.Claims(c); claims.Subject != "" {
		id := claims.UserID()
		data.UserID = &id
		data.Role = string(claims.Role)
		actor = events.Actor{ID: strconv.FormatInt(id, 10), Role: data.Role}
	}
	ev, err := events.New(c.Request.Context(), events.SourceGateway, events.TypeAPIRequest, data.Path, actor, data)
	if err != nil {
		r.logger.ErrorContext(c.Request.Context(), "api event not built", "err", err)
		return
	}
	select {
	case r.buf <- ev:
	default:
		r.drop(c.Request.Context())
	}
}

// drop counts a lost event and warns at most once a second.
func (r *Recorder) drop(ctx context.Context) {
	r.dropped.Inc()
	n := r.nDropped.Add(1)
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last >= int64(time.Second) && r.lastWarn.CompareAndSwap(last, now) {
		r.logger.WarnContext(ctx, "api event buffer full: dropping events", "dropped_total", n, "buffer", cap(r.buf))
	}
}

func (r *Recorder) publishLoop() {
	for ev := range r.buf {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := r.pub.Publish(ev.Context(ctx), ev); err != nil {
			r.failed.Inc()
			r.logger.WarnContext(ctx, "api event not published", "event_id", ev.ID, "err", err)
		}
		cancel()
	}
}

// Close stops taking events and publishes what is buffered, waiting until
// done or ctx ends. Call it only after the HTTP server has stopped: a
// request recorded after Close would panic.
func (r *Recorder) Close(ctx context.Context) error {
	r.closeOnce.Do(func() { close(r.buf) })
	done := make(chan struct{})
	go func() {
		r.workers.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
