package postgres_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/postgres"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

// receiver is an HTTP endpoint on loopback that answers with status(n),
// n counting its requests from 1, and records the event ids it got.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	got      map[string]int // webhook-id -> requests
	n        atomic.Int32
	inFlight atomic.Int32
	peak     atomic.Int32
}

func newReceiver(t *testing.T, delay time.Duration, status func(n int32) int) *receiver {
	r := &receiver{got: map[string]int{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		now := r.inFlight.Add(1)
		defer r.inFlight.Add(-1)
		for {
			peak := r.peak.Load()
			if now <= peak || r.peak.CompareAndSwap(peak, now) {
				break
			}
		}
		_, _ = io.Copy(io.Discard, req.Body)
		time.Sleep(delay)
		code := status(r.n.Add(1))
		if code < 300 {
			r.mu.Lock()
			r.got[req.Header.Get("webhook-id")]++
			r.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) delivered() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]int{}
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

var admin = webhook.Actor{ID: 1, Role: access.RoleAdmin}

func register(t *testing.T, svc *webhook.Service, url string, types ...string) webhook.Endpoint {
	t.Helper()
	e, err := svc.Create(context.Background(), admin, webhook.Draft{URL: &url, EventTypes: types})
	if err != nil {
		t.Fatalf("register %s: %v", url, err)
	}
	return e
}

func dispatcher(store *postgres.Store, schedule []time.Duration, disableAfter time.Duration, perEndpoint int) *webhook.Dispatcher {
	return &webhook.Dispatcher{
		Queue: store, Sender: webhook.NewSender(webhook.Guard{AllowPrivate: true}), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Schedule: schedule, DisableAfter: disableAfter, Workers: 8, PerEndpoint: perEndpoint, Poll: 20 * time.Millisecond,
	}
}

// run runs the dispatchers until the job queue is empty (or 15 s).
func run(t *testing.T, pool *pgxpool.Pool, ds ...*webhook.Dispatcher) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for _, d := range ds {
		wg.Go(func() { _ = d.Run(ctx) })
	}
	defer func() { stop(); wg.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		var jobs int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM webhooks.jobs j JOIN webhooks.endpoints e ON e.id = j.endpoint_id AND e.active`).Scan(&jobs); err != nil {
			t.Fatal(err)
		}
		if jobs == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("jobs still queued after 15 s")
}

func ticketEvents(t *testing.T, n int) []events.Event {
	t.Helper()
	var out []events.Event
	for i := range n {
		ev, err := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, fmt.Sprintf("REQ%06d", i+1),
			events.Actor{ID: "3", Role: "user"}, map[string]any{"n": i})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func TestDeliveriesAndRetries(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	svc := webhook.NewService(store, webhook.Guard{AllowPrivate: true})
	ok := newReceiver(t, 0, func(int32) int { return 200 })
	flaky := newReceiver(t, 0, func(n int32) int { // fails the first two requests
		if n <= 2 {
			return 503
		}
		return 204
	})
	broken := newReceiver(t, 0, func(int32) int { return 500 })
	other := newReceiver(t, 0, func(int32) int { return 200 })
	off := newReceiver(t, 0, func(int32) int { return 200 })

	register(t, svc, ok.URL, events.TypeTicketCreated, events.TypeUserRegistered)
	register(t, svc, flaky.URL, events.TypeTicketCreated)
	brokenEP := register(t, svc, broken.URL, events.TypeTicketCreated)
	register(t, svc, other.URL, events.TypeTicketDeleted)
	offEP := register(t, svc, off.URL, events.TypeTicketCreated)
	no := false
	if _, err := svc.Update(context.Background(), admin, offEP.ID, webhook.Patch{Active: &no}); err != nil {
		t.Fatal(err)
	}

	d := dispatcher(store, []time.Duration{50 * time.Millisecond, 50 * time.Millisecond}, time.Hour, 4)
	evs := ticketEvents(t, 3)
	for range 2 { // a redelivered batch queues nothing new
		if errs := d.Intake(context.Background(), evs); errs[0] != nil {
			t.Fatal(errs[0])
		}
	}
	run(t, pool, d)

	for name, r := range map[string]*receiver{"ok": ok, "flaky": flaky} {
		got := r.delivered()
		for _, ev := range evs {
			if got[ev.ID] != 1 {
				t.Errorf("%s received %s %d times, want once", name, ev.ID, got[ev.ID])
			}
		}
	}
	if n := len(other.delivered()) + len(off.delivered()); n != 0 {
		t.Errorf("an endpoint not subscribed, or off, received %d events", n)
	}
	if n := broken.n.Load(); n != 9 {
		t.Errorf("the broken endpoint was tried %d times, want 9 (3 events × 1 + 2 retries)", n)
	}
	attempts, total, err := svc.Attempts(context.Background(), admin, brokenEP.ID, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	givenUp := 0
	for _, a := range attempts {
		if a.StatusCode == nil || *a.StatusCode != 500 || a.Error == nil {
			t.Errorf("attempt %+v: want status 500 and an error", a)
		}
		if a.Attempt == 3 && strings.Contains(*a.Error, "given up") {
			givenUp++
		}
	}
	if total != 9 || givenUp != 3 || attempts[0].ID < attempts[len(attempts)-1].ID {
		t.Errorf("deliveries: %d in all, %d given up on the third attempt, newest first: %t; want 9, 3, true",
			total, givenUp, attempts[0].ID > attempts[len(attempts)-1].ID)
	}
	e, err := svc.Get(context.Background(), admin, brokenEP.ID)
	if err != nil || e.FailingSince == nil || !e.Active {
		t.Errorf("the broken endpoint after an hour's worth less of failures: %+v, %v; want active and failing", e, err)
	}
}

// An endpoint failing for DisableAfter is deactivated once, with one
// event, and gets no attempt after that.
func TestDeactivation(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	svc := webhook.NewService(store, webhook.Guard{AllowPrivate: true})
	broken := newReceiver(t, 0, func(int32) int { return 500 })
	ep := register(t, svc, broken.URL, events.TypeTicketCreated)

	d := dispatcher(store, []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}, 50*time.Millisecond, 4)
	if errs := d.Intake(context.Background(), ticketEvents(t, 1)); errs[0] != nil {
		t.Fatal(errs[0])
	}
	run(t, pool, d)
	e, err := svc.Get(context.Background(), admin, ep.ID)
	if err != nil || e.Active {
		t.Fatalf("after failing past DisableAfter: %+v, %v; want inactive", e, err)
	}
	if n := broken.n.Load(); n != 2 {
		t.Errorf("%d attempts, want 2 (the first starts the failure clock, the second finds it past due)", n)
	}
	var deactivations int
	var data string
	if err := pool.QueryRow(context.Background(), `SELECT count(*), coalesce(max(event->>'data'), '') FROM webhooks.outbox
WHERE event->>'type' = 'support.webhook.deactivated.v1'`).Scan(&deactivations, &data); err != nil {
		t.Fatal(err)
	}
	if deactivations != 1 || !strings.Contains(data, ep.ID) || strings.Contains(data, "whsec_") {
		t.Errorf("%d deactivation events (%s), want one naming the endpoint, without its secret", deactivations, data)
	}
	// Turned on again: its failures are forgotten and the pending retry goes.
	yes := true
	if e, err = svc.Update(context.Background(), admin, ep.ID, webhook.Patch{Active: &yes}); err != nil || e.FailingSince != nil {
		t.Errorf("reactivated: %+v, %v", e, err)
	}
}

// Two replicas share the queue: every event reaches the endpoint once, and
// neither has more than PerEndpoint attempts to it in flight.
func TestReplicasAndPerEndpointBound(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	svc := webhook.NewService(store, webhook.Guard{AllowPrivate: true})
	slow := newReceiver(t, 50*time.Millisecond, func(int32) int { return 200 })
	register(t, svc, slow.URL, events.TypeTicketCreated)

	a, b := dispatcher(store, webhook.DefaultSchedule, time.Hour, 2), dispatcher(postgres.NewStore(pool), webhook.DefaultSchedule, time.Hour, 2)
	evs := ticketEvents(t, 30)
	if errs := a.Intake(context.Background(), evs); errs[0] != nil {
		t.Fatal(errs[0])
	}
	run(t, pool, a, b)
	got := slow.delivered()
	for _, ev := range evs {
		if got[ev.ID] != 1 {
			t.Errorf("%s delivered %d times, want once", ev.ID, got[ev.ID])
		}
	}
	if peak := slow.peak.Load(); peak > 4 || peak < 2 {
		t.Errorf("%d attempts at once at the endpoint, want 2 to 4 (2 per replica)", peak)
	}
}

// TestRecordingIsBounded: while an attempt's outcome cannot be recorded
// (here another transaction holds its endpoint's row), recording gives up
// at RecordTimeout, so the dispatcher still stops when asked, and the job,
// still leased, goes again later.
func TestRecordingIsBounded(t *testing.T) {
	pool, _ := pgtest.New(t, postgres.Migrations)
	store := postgres.NewStore(pool)
	svc := webhook.NewService(store, webhook.Guard{AllowPrivate: true})
	ok := newReceiver(t, 0, func(int32) int { return 200 })
	e := register(t, svc, ok.URL, events.TypeTicketCreated)
	d := dispatcher(store, webhook.DefaultSchedule, time.Hour, 2)
	d.RecordTimeout = 200 * time.Millisecond
	if errs := d.Intake(context.Background(), ticketEvents(t, 1)); errs[0] != nil {
		t.Fatal(errs[0])
	}

	release := pgtest.Lock(t, pool, "SELECT 1 FROM webhooks.endpoints WHERE id = $1 FOR UPDATE", e.ID)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	for deadline := time.Now().Add(5 * time.Second); ok.n.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if ok.n.Load() == 0 {
		t.Fatal("the event was not sent")
	}
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the dispatcher did not stop while recording an attempt waited on a lock")
		release() // let it go, so that the test ends
		<-done
	}
	if jobs := pgtest.Count(t, pool, "SELECT count(*) FROM webhooks.jobs"); jobs != 1 {
		t.Errorf("%d jobs queued, want the one whose outcome was not recorded", jobs)
	}
}
