package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// DefaultSchedule is when a failed delivery is tried again, after the
// first attempt (WEBHOOK_RETRY_SCHEDULE): 5 s, 5 min, 30 min, 2 h, 5 h,
// 10 h and 10 h; the eighth failure gives the event up.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour, 10 * time.Hour, 10 * time.Hour,
}

// Job is an event waiting for delivery to one endpoint.
type Job struct {
	ID        int64
	Endpoint  Endpoint
	EventID   string
	EventType string
	Body      []byte
	Attempts  int // made so far
}

// Queued is an event to deliver to the endpoints subscribed to its type.
type Queued struct {
	EventID   string
	EventType string
	Body      []byte
}

// Queue keeps the jobs of the dispatcher.
type Queue interface {
	// Enqueue adds a job for each event and each active endpoint
	// subscribed to its type, once per endpoint and event however often
	// it is called, and returns how many it added.
	Enqueue(ctx context.Context, evs []Queued) (int, error)
	// Claim takes up to limit due jobs of active endpoints, at most
	// perEndpoint of each and none of the busy ones, and moves their due
	// time lease ahead: another claim (another replica) sees them again
	// only if this one does not finish them by then.
	Claim(ctx context.Context, limit, perEndpoint int, busy []string, lease time.Duration) ([]Job, error)
	// Finish records attempt a of job j, then deletes the job, or, with
	// retryAt, keeps it due then; settle updates the endpoint (locked) and
	// returns the events of that change, stored with it. A job whose
	// endpoint is gone is dropped.
	Finish(ctx context.Context, j Job, a Attempt, retryAt *time.Time, settle func(*Endpoint) ([]events.Event, error)) error
}

// Sender posts events to endpoints the Standard Webhooks way.
type Sender struct {
	client *http.Client
}

// AttemptTimeout bounds one delivery attempt, connection included.
const AttemptTimeout = 10 * time.Second

// NewSender returns a Sender whose every dial goes through guard: no
// proxy, no redirect followed (a 3xx is a failure), AttemptTimeout per
// attempt.
func NewSender(guard Guard) *Sender { return newSender(guard, AttemptTimeout) }

func newSender(guard Guard, timeout time.Duration) *Sender {
	dialer := &net.Dialer{Timeout: timeout, Control: guard.Control}
	transport := &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	return &Sender{client: &http.Client{
		Transport:     transport,
		Timeout:       timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

// Send posts body (the CloudEvent as published) to e, signed with its
// secret: headers webhook-id (the event id, the same on every retry),
// webhook-timestamp and webhook-signature. It returns the status code, 0
// when there was no answer, and an error unless the answer was a 2xx.
func (s *Sender) Send(ctx context.Context, e Endpoint, eventID string, body []byte) (int, error) {
	wh, err := standardwebhooks.NewWebhook(e.Secret)
	if err != nil {
		return 0, fmt.Errorf("the endpoint's secret: %w", err)
	}
	now := time.Now()
	sig, err := wh.Sign(eventID, now, body)
	if err != nil {
		return 0, fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "supportdesk-webhooks/1")
	req.Header.Set("webhook-id", eventID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", sig)
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// Dispatcher delivers the jobs of its queue: it is the delivery
// consumer's handler (Intake) and the loop that sends (Run).
type Dispatcher struct {
	Queue    Queue
	Sender   *Sender
	Logger   *slog.Logger
	Schedule []time.Duration
	// DisableAfter deactivates an endpoint whose attempts have failed for
	// that long without a success (WEBHOOK_DISABLE_AFTER, 5 days).
	DisableAfter time.Duration
	// Workers bounds the attempts in flight; PerEndpoint bounds them per
	// endpoint (both per replica).
	Workers     int
	PerEndpoint int
	// Poll is how often Run looks for due jobs without being woken.
	Poll time.Duration
	// RecordTimeout bounds recording an attempt's outcome (0:
	// AttemptTimeout), so that an attempt, sent and recorded, ends within
	// its job's lease and a stalled database does not hold Run's stop.
	RecordTimeout time.Duration

	wake     chan struct{}
	initOnce sync.Once
	mu       sync.Mutex
	busy     map[string]int // endpoint id -> attempts in flight
}

func (d *Dispatcher) init() {
	d.initOnce.Do(func() {
		d.wake = make(chan struct{}, 1)
		d.busy = map[string]int{}
		if d.RecordTimeout <= 0 {
			d.RecordTimeout = AttemptTimeout
		}
	})
}

// Intake is the delivery consumer's batch handler: it queues each event
// for the endpoints subscribed to it and wakes the loop. Queueing is
// idempotent, so a redelivered event is not sent twice.
func (d *Dispatcher) Intake(ctx context.Context, evs []events.Event) []error {
	d.init()
	queued := make([]Queued, 0, len(evs))
	errs := make([]error, len(evs))
	for _, ev := range evs {
		body, err := json.Marshal(ev) // as the publisher encoded it
		if err != nil {
			return fill(errs, err)
		}
		queued = append(queued, Queued{EventID: ev.ID, EventType: ev.Type, Body: body})
	}
	n, err := d.Queue.Enqueue(ctx, queued)
	if err != nil {
		return fill(errs, err)
	}
	if n > 0 {
		d.poke()
	}
	return errs
}

// poke wakes Run, unless a wake-up is pending already.
func (d *Dispatcher) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func fill(errs []error, err error) []error {
	for i := range errs {
		errs[i] = err
	}
	return errs
}

// lease is how long a claimed job is held before another replica may take
// it: longer than an attempt.
const lease = 3 * AttemptTimeout

// Run claims due jobs and sends them until ctx ends; it waits for the
// attempts in flight before returning. A claim that fails (the database
// away) is logged and tried again.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.init()
	slots := make(chan struct{}, d.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(d.Poll)
	defer tick.Stop()
	for {
		free := d.Workers - len(slots)
		if free > 0 {
			jobs, err := d.Queue.Claim(ctx, free, d.PerEndpoint, d.busyEndpoints(), lease)
			if err != nil && ctx.Err() == nil {
				d.Logger.WarnContext(ctx, "webhooks: claim", "err", err)
			}
			for _, j := range jobs {
				slots <- struct{}{}
				d.hold(j.Endpoint.ID, 1)
				wg.Go(func() {
					defer func() {
						d.hold(j.Endpoint.ID, -1)
						<-slots
						d.poke() // a slot is free: claim again without waiting for the tick
					}()
					d.attempt(context.WithoutCancel(ctx), j)
				})
			}
			if len(jobs) == free {
				continue // more may be due
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-tick.C:
		}
	}
}

func (d *Dispatcher) hold(endpoint string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.busy[endpoint] += n; d.busy[endpoint] <= 0 {
		delete(d.busy, endpoint)
	}
}

// busyEndpoints are the endpoints with PerEndpoint attempts in flight.
func (d *Dispatcher) busyEndpoints() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for id, n := range d.busy {
		if n >= d.PerEndpoint {
			out = append(out, id)
		}
	}
	return out
}

// attempt sends one job and records the outcome: done on success or after
// the last retry, else due again per the schedule (±10 %).
func (d *Dispatcher) attempt(ctx context.Context, j Job) {
	start := time.Now()
	status, err := d.Sender.Send(ctx, j.Endpoint, j.EventID, j.Body)
	a := Attempt{EndpointID: j.Endpoint.ID, EventID: j.EventID, EventType: j.EventType, Attempt: j.Attempts + 1, Duration: time.Since(start)}
	if status != 0 {
		a.StatusCode = &status
	}
	var retryAt *time.Time
	if err != nil {
		msg := err.Error()
		if j.Attempts < len(d.Schedule) {
			wait := d.Schedule[j.Attempts]
			at := time.Now().Add(wait + time.Duration((rand.Float64()-0.5)*0.2*float64(wait)))
			retryAt = &at
		} else {
			msg += "; no retry left: given up"
		}
		a.Error = &msg
	}
	ctx, cancel := context.WithTimeout(ctx, d.RecordTimeout)
	defer cancel()
	settle := func(e *Endpoint) ([]events.Event, error) { return d.settle(ctx, e, err == nil) }
	if ferr := d.Queue.Finish(ctx, j, a, retryAt, settle); ferr != nil {
		// The job stays leased and is tried again when the lease ends.
		d.Logger.WarnContext(ctx, "webhooks: record attempt", "endpoint", j.Endpoint.ID, "event_id", j.EventID, "err", ferr)
	}
}

// settle keeps an endpoint's failure clock: a success clears it; a failure
// starts it, or, DisableAfter after it started, deactivates the endpoint
// and announces it.
func (d *Dispatcher) settle(ctx context.Context, e *Endpoint, ok bool) ([]events.Event, error) {
	now := time.Now().UTC()
	switch {
	case ok:
		e.FailingSince = nil
		return nil, nil
	case e.FailingSince == nil:
		e.FailingSince = &now
		return nil, nil
	case e.Active && now.Sub(*e.FailingSince) >= d.DisableAfter:
		e.Active = false
		e.UpdatedAt = now
		ev, err := events.New(ctx, events.SourceWebhooks, events.TypeWebhookDeactivated, e.ID, events.Actor{ID: "system", Role: "system"},
			events.WebhookDeactivated{Webhook: e.Snapshot(), Reason: fmt.Sprintf("every delivery failed since %s", e.FailingSince.Format(time.RFC3339))})
		return []events.Event{ev}, err
	}
	return nil, nil
}
