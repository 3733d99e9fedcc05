// Package apilog publishes one support.api.request event per API call seen
// by the gateway, so that every answered request is in the API log.
//
// The gateway has no database: events wait in a bounded queue and are
// published asynchronously, with at most a bounded number unacknowledged.
// While NATS is reachable nothing is dropped: when the queue is full, the
// request that recorded the event waits for room (backpressure), and a
// publish that fails or is not acknowledged is sent again (the stream drops
// the copy by its Nats-Msg-Id). Only while NATS is unreachable, or when the
// queue stays full past a wait bound, are events beyond the queue dropped:
// counted, and logged at most once a second, while the gateway keeps
// serving.
//
// Requests the gateway's own rate limits refuse are not published one by
// one: they are counted per client, user, route and minute, and each count
// is one support.api.refused event (see refusals), so that a flood of
// refusals costs the log little and never takes the place of the records of
// served requests.
package apilog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/guard"
)

// Settings of the recorder.
type Settings struct {
	// Buffer bounds the events waiting to be published (API_EVENT_BUFFER).
	Buffer int
	// MaxPending bounds the events published and not yet acknowledged.
	MaxPending int
	// MaxWait bounds how long a request waits for room in a full queue
	// while NATS is connected; past it the event is dropped, as when NATS
	// is unreachable.
	MaxWait time.Duration
	// Linger is how long the publisher lets events gather after the first
	// before it publishes them back to back (0: each at once). Published
	// one by one, each event costs NATS and both processes a round of
	// wake-ups, a write and a read; a burst costs about one.
	Linger time.Duration
}

// DefaultSettings are the recorder's settings but the buffer.
func DefaultSettings(buffer int) Settings {
	return Settings{Buffer: buffer, MaxPending: 512, MaxWait: 5 * time.Second, Linger: 2 * time.Millisecond}
}

// Longest values the events carry: a header may be long, but the event of
// every answered request must fit a NATS message.
const (
	maxUserAgent = 1024
	maxPath      = 2048
)

// ackTimeout is how long an unacknowledged publish waits before it is sent
// again.
const ackTimeout = 5 * time.Second

// Recorder queues and publishes API request events.
type Recorder struct {
	js       jetstream.JetStream
	online   func() bool
	settings Settings
	logger   *slog.Logger
	queue    chan *nats.Msg // events waiting to be published
	retry    chan *nats.Msg // publishes that failed, to send again first
	refused  *refusals

	mu      sync.RWMutex // held for reading while queuing, for writing to close
	closed  bool
	done    chan struct{} // closed by Close
	stopped chan struct{} // closed when the publishing loop has returned
	held    []*nats.Msg   // what the loop could not send before it stopped

	dropped      prometheus.Counter
	retried      prometheus.Counter
	backpressure prometheus.Counter
	nDropped     atomic.Int64
	lastWarn     atomic.Int64 // unix nanos of the last drop warning
}

// New returns a Recorder publishing on nc, and registers its metrics on
// reg. It starts publishing at once; Close stops it.
func New(nc *nats.Conn, s Settings, reg prometheus.Registerer, logger *slog.Logger) (*Recorder, error) {
	r := &Recorder{
		online:   func() bool { return nc.Status() == nats.CONNECTED },
		settings: s,
		logger:   logger,
		queue:    make(chan *nats.Msg, s.Buffer),
		retry:    make(chan *nats.Msg, 2*s.MaxPending),
		refused:  newRefusals(),
		done:     make(chan struct{}),
		stopped:  make(chan struct{}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_api_events_dropped_total",
			Help: "API request events dropped: NATS was unreachable (or stalled past the wait bound) and the queue full.",
		}),
		retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_api_events_retried_total",
			Help: "API request events published again after a failed or unacknowledged publish.",
		}),
		backpressure: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gateway_api_events_backpressure_total",
			Help: "API requests that waited for room in a full event queue.",
		}),
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(s.MaxPending),
		jetstream.WithPublishAsyncTimeout(ackTimeout),
		jetstream.WithPublishAsyncErrHandler(func(_ jetstream.JetStream, msg *nats.Msg, err error) { r.again(msg, err) }))
	if err != nil {
		return nil, err
	}
	r.js = js
	reg.MustRegister(r.dropped, r.retried, r.backpressure,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gateway_api_events_buffered",
			Help: "API request events waiting to be published.",
		}, func() float64 { return float64(len(r.queue) + len(r.retry)) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gateway_api_events_unacknowledged",
			Help: "API request events published and not yet acknowledged by the stream.",
		}, func() float64 { return float64(r.js.PublishAsyncPending()) }))
	go func() {
		defer close(r.stopped)
		r.loop()
	}()
	return r, nil
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
	var userID *int64
	var actor events.Actor
	if claims := web.Claims(c); claims.Subject != "" {
		id := claims.UserID()
		userID = &id
		actor = events.Actor{ID: strconv.FormatInt(id, 10), Role: string(claims.Role)}
	}
	if guard.Refused(c) {
		r.refused.add(refusalKey{ip: c.ClientIP(), method: c.Request.Method, route: route,
			status: c.Writer.Status(), user: actor}, time.Now())
		return
	}
	data := events.APIRequest{
		Method:      c.Request.Method,
		Route:       route,
		Path:        events.Truncate(c.Request.URL.Path, maxPath), // never the query string: it may carry tokens
		StatusCode:  c.Writer.Status(),
		ProcessTime: took.Seconds(),
		IPAddress:   c.ClientIP(),
		UserAgent:   events.Truncate(c.Request.UserAgent(), maxUserAgent),
		UserID:      userID,
		Role:        actor.Role,
		RequestID:   c.Writer.Header().Get("X-Request-Id"),
		TraceID:     problem.TraceID(c.Request.Context()),
	}
	ev, err := events.New(c.Request.Context(), events.SourceGateway, events.TypeAPIRequest, data.Path, actor, data)
	if err != nil {
		r.logger.ErrorContext(c.Request.Context(), "api event not built", "err", err)
		return
	}
	r.enqueue(c.Request.Context(), ev)
}

// enqueue queues ev for publishing. When the queue is full it waits for
// room, up to MaxWait, while NATS is connected; otherwise, or past that,
// it drops the event.
func (r *Recorder) enqueue(ctx context.Context, ev events.Event) {
	msg, err := bus.Message(ctx, ev) // the request's trace: the event's own traceparent
	if err != nil {
		r.logger.ErrorContext(ctx, "api event not encoded", "event_id", ev.ID, "err", err)
		return
	}
	msg.Header.Set(jetstream.MsgIDHeader, ev.ID)
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		r.drop(ctx, "the recorder is closed")
		return
	}
	select {
	case r.queue <- msg:
		return
	default:
	}
	if !r.online() {
		r.drop(ctx, "NATS is unreachable")
		return
	}
	r.backpressure.Inc()
	wait := time.NewTimer(r.settings.MaxWait)
	defer wait.Stop()
	select {
	case r.queue <- msg:
	case <-wait.C:
		r.drop(ctx, "NATS did not take events for "+r.settings.MaxWait.String())
	}
}

// drop counts a lost event and warns at most once a second.
func (r *Recorder) drop(ctx context.Context, why string) {
	r.dropped.Inc()
	n := r.nDropped.Add(1)
	now := time.Now().UnixNano()
	last := r.lastWarn.Load()
	if now-last >= int64(time.Second) && r.lastWarn.CompareAndSwap(last, now) {
		r.logger.WarnContext(ctx, "api event queue full: dropping events", "why", why, "dropped_total", n, "buffer", cap(r.queue))
	}
}

// again takes back a publish that failed or was not acknowledged in time,
// to send it again. It runs on the library's goroutines, so it never
// waits: the retry queue holds twice the publishes that can be pending.
func (r *Recorder) again(msg *nats.Msg, err error) {
	select {
	case r.retry <- msg:
		r.retried.Inc()
	default:
		r.drop(context.Background(), "too many failed publishes: "+err.Error())
	}
}

// loop publishes queued events, retries first, until Close; every second it
// also publishes the refusals of the minutes that are over.
func (r *Recorder) loop() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-r.done
		cancel()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		var msg *nats.Msg
		select {
		case msg = <-r.retry:
		default:
			select {
			case msg = <-r.retry:
			case msg = <-r.queue:
			case now := <-tick.C:
				for _, m := range r.refusalMessages(now, false) {
					if !r.send(ctx, m) {
						r.held = append(r.held, m)
					}
				}
				continue
			case <-r.done:
				return
			}
		}
		batch := r.gather(msg)
		for i, m := range batch {
			if !r.send(ctx, m) {
				r.held = append(r.held, batch[i:]...)
				return
			}
		}
	}
}

// maxBurst bounds the events gather hands on at once.
const maxBurst = 256

// gather returns first and the events queued within Linger after it (up
// to maxBurst), to be published back to back. It returns early when the
// recorder closes.
func (r *Recorder) gather(first *nats.Msg) []*nats.Msg {
	batch := []*nats.Msg{first}
	if r.settings.Linger <= 0 {
		return batch
	}
	linger := time.NewTimer(r.settings.Linger)
	defer linger.Stop()
	select {
	case <-linger.C:
	case <-r.done:
	}
	for len(batch) < maxBurst {
		select {
		case m := <-r.queue:
			batch = append(batch, m)
		default:
			return batch
		}
	}
	return batch
}

// send publishes msg without waiting for its acknowledgement, and reports
// whether it did before ctx ended. While the most unacknowledged publishes
// are out it waits, which fills the queue and holds requests back; a
// failure to send (NATS unreachable) is retried. A message the server can
// never take (too big) is dropped, and counts as sent.
func (r *Recorder) send(ctx context.Context, msg *nats.Msg) bool {
	for delay := 10 * time.Millisecond; ; delay = min(2*delay, time.Second) {
		_, err := r.js.PublishMsgAsync(msg, jetstream.WithStallWait(time.Second))
		switch {
		case err == nil:
			return true
		case errors.Is(err, nats.ErrMaxPayload):
			r.drop(ctx, "event larger than a NATS message")
			return true
		case errors.Is(err, jetstream.ErrTooManyStalledMsgs):
			delay = 0 // acknowledgements are slow: wait for room again at once
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return false
		}
	}
}

// Close stops taking events, publishes what is queued and the refusals
// counted so far, and waits until the stream acknowledged them all, or ctx
// ends; what is left then is dropped and counted. Events recorded after
// Close are dropped and counted too.
func (r *Recorder) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	close(r.done)
	<-r.stopped

	pending := append(r.held, r.refusalMessages(time.Now(), true)...)
	for {
		for len(pending) > 0 {
			if !r.send(ctx, pending[0]) {
				return r.giveUp(ctx, len(pending))
			}
			pending = pending[1:]
		}
		select {
		case msg := <-r.retry:
			pending = append(pending, msg)
		case msg := <-r.queue:
			pending = append(pending, msg)
		case <-r.js.PublishAsyncComplete():
			if len(r.retry) == 0 && len(r.queue) == 0 {
				return nil
			}
		case <-ctx.Done():
			return r.giveUp(ctx, 0)
		}
	}
}

// giveUp counts as dropped what Close could not publish in time.
func (r *Recorder) giveUp(ctx context.Context, unsent int) error {
	left := unsent + len(r.queue) + len(r.retry) + r.js.PublishAsyncPending()
	for range left {
		r.drop(ctx, "closed before NATS acknowledged")
	}
	return fmt.Errorf("%d api events not acknowledged: %w", left, ctx.Err())
}
