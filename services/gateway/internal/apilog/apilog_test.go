package apilog_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/gateway/internal/apilog"
	"github.com/supportdesk/supportdesk/services/gateway/internal/edge"
	"github.com/supportdesk/supportdesk/services/gateway/internal/guard"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

var tm = token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)

// rig is a recorder on a real JetStream server of the test's own, in front
// of a small engine.
type rig struct {
	nc     *nats.Conn
	stream jetstream.Stream
	rec    *apilog.Recorder
	reg    *prometheus.Registry
	engine *gin.Engine
}

func newRig(t *testing.T, natsURL string, s apilog.Settings, middleware ...gin.HandlerFunc) *rig {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(natsURL, "apilog-test")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	stream, err := bus.EnsureStream(ctx, js, bus.DefaultStream())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	rec, err := apilog.New(nc, s, reg, quiet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rec.Close(context.Background()) })
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.Use(append([]gin.HandlerFunc{rec.Middleware()}, middleware...)...)
	e.GET("/user_request/:id", web.Authenticate(tm), func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	web.HealthRoutes(e, nil)
	return &rig{nc: nc, stream: stream, rec: rec, reg: reg, engine: e}
}

// call sends a request to the engine and returns its status.
func (r *rig) call(t *testing.T, path string, headers ...string) int {
	t.Helper()
	req := httptest.NewRequest("GET", path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	r.engine.ServeHTTP(w, req)
	return w.Code
}

// close closes the recorder, failing the test if it cannot.
func (r *rig) close(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := r.rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

// stored returns the events of the stream on subject.
func (r *rig) stored(t *testing.T, subject string) []events.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cons, err := r.stream.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{subject}})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []events.Event
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(msg.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func value(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			m := mf.GetMetric()[0]
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestEventsReachTheStream(t *testing.T) {
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	r := newRig(t, natstest.Start(t), apilog.DefaultSettings(16))
	tok, _, _ := tm.Issue(7, access.RoleStaff, "s")
	if code := r.call(t, "/user_request/REQ000001?access_token=super-secret", "Authorization", "Bearer "+tok,
		"User-Agent", "e2e-agent"); code != 200 {
		t.Fatalf("status %d", code)
	}
	// Probes are not API calls; a huge User-Agent is cut, so that the
	// event fits a NATS message and the call is logged all the same.
	r.call(t, "/health/live")
	r.call(t, "/user_request/2", "User-Agent", strings.Repeat("é", 600_000))
	r.close(t)

	got := r.stored(t, "support.api.request")
	if len(got) != 2 {
		t.Fatalf("%d events stored, want 2", len(got))
	}
	ev := got[0]
	raw, _ := json.Marshal(ev)
	if strings.Contains(string(raw), "super-secret") || strings.Contains(string(raw), tok) {
		t.Fatalf("the event holds the query string or the token: %s", raw)
	}
	var data events.APIRequest
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Method != "GET" || data.Route != "/user_request/:id" || data.Path != "/user_request/REQ000001" ||
		data.StatusCode != 200 || data.UserID == nil || *data.UserID != 7 || data.Role != "staff" ||
		data.IPAddress != "192.0.2.1" || data.UserAgent != "e2e-agent" || len(data.TraceID) != 32 || data.ProcessTime <= 0 {
		t.Errorf("event data = %+v", data)
	}
	if ev.ActorID != "7" || ev.ActorRole != "staff" || ev.Type != events.TypeAPIRequest {
		t.Errorf("event = %+v", ev)
	}
	if err := json.Unmarshal(got[1].Data, &data); err != nil {
		t.Fatal(err)
	}
	if len(data.UserAgent) > 1024 || !strings.HasPrefix(data.UserAgent, "éé") || data.StatusCode != 401 {
		t.Errorf("huge User-Agent kept as %d bytes, status %d", len(data.UserAgent), data.StatusCode)
	}
}

// TestBackpressureLosesNothing floods a recorder whose queue and window of
// unacknowledged publishes are tiny: requests wait, and every one is in the
// stream exactly once.
func TestBackpressureLosesNothing(t *testing.T) {
	r := newRig(t, natstest.Start(t), apilog.Settings{Buffer: 2, MaxPending: 1, MaxWait: 30 * time.Second})
	const clients, each = 16, 40
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for i := range each {
				if code := r.call(t, fmt.Sprintf("/user_request/%d", c*each+i)); code != 401 {
					t.Errorf("status %d", code)
				}
			}
		})
	}
	wg.Wait()
	r.close(t)
	got := r.stored(t, "support.api.request")
	paths := map[string]int{}
	for _, ev := range got {
		paths[ev.Subject]++
	}
	if len(got) != clients*each || len(paths) != clients*each || r.rec.Dropped() != 0 {
		t.Errorf("%d events, %d distinct requests, %d dropped; want %d, %d, 0", len(got), len(paths), r.rec.Dropped(), clients*each, clients*each)
	}
	if v := value(t, r.reg, "gateway_api_events_backpressure_total"); v == 0 {
		t.Error("no request waited: the test did not fill the queue")
	}
}

// TestDropsOnlyWhileNATSIsUnreachable stops the server under the recorder:
// requests are still answered at once, events beyond the queue are dropped
// and counted, and once the server is back the queued ones are stored, each
// once.
func TestDropsOnlyWhileNATSIsUnreachable(t *testing.T) {
	dir := t.TempDir()
	srv := natstest.StartServer(t, dir)
	port := natstest.Port(srv)
	r := newRig(t, srv.ClientURL(), apilog.Settings{Buffer: 10, MaxPending: 4, MaxWait: 30 * time.Second})
	for i := range 5 {
		r.call(t, fmt.Sprintf("/user_request/before-%d", i))
	}
	// Wait until those are acknowledged, so the outage starts clean.
	deadline := time.Now().Add(10 * time.Second)
	for value(t, r.reg, "gateway_api_events_unacknowledged")+value(t, r.reg, "gateway_api_events_buffered") > 0 {
		if time.Now().After(deadline) {
			t.Fatal("events before the outage not acknowledged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	srv.Shutdown()
	srv.WaitForShutdown()
	for r.nc.Status() == nats.CONNECTED {
		time.Sleep(10 * time.Millisecond)
	}

	const during = 60
	start := time.Now()
	for i := range during {
		if code := r.call(t, fmt.Sprintf("/user_request/during-%d", i)); code != 401 {
			t.Fatalf("status %d during the outage", code)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("%d requests took %v during the outage: they waited for NATS", during, took)
	}
	dropped := r.rec.Dropped()
	if dropped < during-10-4-1 || dropped >= during {
		t.Errorf("dropped %d of %d with a queue of 10", dropped, during)
	}
	if v := value(t, r.reg, "gateway_api_events_dropped_total"); v != float64(dropped) {
		t.Errorf("dropped metric %v, want %d", v, dropped)
	}

	natstest.StartServerOn(t, dir, port)
	r.close(t)
	got := r.stored(t, "support.api.request")
	seen := map[string]int{}
	for _, ev := range got {
		seen[ev.Subject]++
		if seen[ev.Subject] > 1 {
			t.Errorf("%s stored twice", ev.Subject)
		}
	}
	if len(got) != 5+during-int(dropped) {
		t.Errorf("%d events stored, want %d (5 before, %d during, %d dropped)", len(got), 5+during-int(dropped), during, dropped)
	}
}

// TestRefusalsAreCounted: requests the rate limit refuses become one event
// per client, route and minute with their count, beside the events of the
// requests it let through.
func TestRefusalsAreCounted(t *testing.T) {
	r := newRig(t, natstest.Start(t), apilog.DefaultSettings(16), guard.PerClient(3).Handler())
	const n = 50
	statuses := map[int]int{}
	for i := range n {
		statuses[r.call(t, fmt.Sprintf("/user_request/%d", i))]++
	}
	if statuses[401] != 3 || statuses[429] != n-3 {
		t.Fatalf("statuses %v, want 3 answered and the rest refused", statuses)
	}
	r.close(t)
	if got := r.stored(t, "support.api.request"); len(got) != 3 {
		t.Errorf("%d api.request events, want 3", len(got))
	}
	var refused int64
	aggregates := r.stored(t, "support.api.refused")
	for _, ev := range aggregates {
		var d events.APIRefused
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			t.Fatal(err)
		}
		if d.Route != "/user_request/:id" || d.StatusCode != 429 || d.IPAddress != "192.0.2.1" || d.Method != "GET" || d.To.Before(d.From) {
			t.Errorf("aggregate = %+v", d)
		}
		refused += d.Count
	}
	// One event, or two if the test crossed a minute.
	if refused != n-3 || len(aggregates) < 1 || len(aggregates) > 2 {
		t.Errorf("%d events counting %d refusals, want 1 or 2 counting %d", len(aggregates), refused, n-3)
	}
}

func TestRecordAfterCloseIsDropped(t *testing.T) {
	r := newRig(t, natstest.Start(t), apilog.DefaultSettings(4))
	r.close(t)
	if code := r.call(t, "/user_request/1"); code != 401 {
		t.Errorf("status %d after close", code)
	}
	if r.rec.Dropped() != 1 {
		t.Errorf("dropped %d after close, want 1", r.rec.Dropped())
	}
	r.close(t) // twice is fine
}

// Behind a trusted proxy the log records the client that X-Forwarded-For
// names, not the proxy.
func TestTheLogNamesTheClientBehindATrustedProxy(t *testing.T) {
	r := newRig(t, natstest.Start(t), apilog.DefaultSettings(16))
	if err := edge.TrustProxies(r.engine, []string{"192.0.2.1"}); err != nil { // httptest's peer
		t.Fatal(err)
	}
	tok, _, _ := tm.Issue(7, access.RoleStaff, "s")
	if code := r.call(t, "/user_request/1", "Authorization", "Bearer "+tok, "X-Forwarded-For", "203.0.113.9"); code != 200 {
		t.Fatalf("status %d", code)
	}
	r.close(t)
	got := r.stored(t, "support.api.request")
	var data events.APIRequest
	if len(got) != 1 || json.Unmarshal(got[0].Data, &data) != nil || data.IPAddress != "203.0.113.9" {
		t.Errorf("logged %d events, the address %q; want one, 203.0.113.9", len(got), data.IPAddress)
	}
}
