package apilog_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
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
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stuckPublisher blocks every publish until released.
type stuckPublisher struct {
	release chan struct{}
	mu      sync.Mutex
	n       int
}

func (p *stuckPublisher) Publish(ctx context.Context, _ events.Event) error {
	<-p.release
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	return nil
}

func engine(rec *apilog.Recorder, tm *token.Manager) *gin.Engine {
	e := web.NewEngine("apilog-test", quiet(), prometheus.NewRegistry())
	e.Use(rec.Middleware())
	e.GET("/user_request/:id", web.Authenticate(tm), func(c *gin.Context) { c.String(http.StatusOK, "ok") })
	web.HealthRoutes(e, nil)
	return e
}

func TestRequestsNeverWaitForTheBus(t *testing.T) {
	pub := &stuckPublisher{release: make(chan struct{})}
	reg := prometheus.NewRegistry()
	rec := apilog.New(pub, 3, 1, reg, quiet())
	e := engine(rec, token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute))

	// The bus is stuck: one event is in the worker's hands, three fill the
	// buffer, and the rest are dropped, while every request is answered.
	const requests = 20
	for range requests {
		w := httptest.NewRecorder()
		e.ServeHTTP(w, httptest.NewRequest("GET", "/user_request/1", nil))
		if w.Code != 401 {
			t.Fatalf("status = %d", w.Code)
		}
	}
	if d := rec.Dropped(); d < requests-4 || d > requests-3 {
		t.Errorf("dropped %d of %d with a buffer of 3", d, requests)
	}
	if got := counter(t, reg, "gateway_api_events_dropped_total"); got != float64(rec.Dropped()) {
		t.Errorf("metric = %v, want %d", got, rec.Dropped())
	}

	// Probes are not API calls.
	e.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/health/live", nil))

	close(pub.release)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if int64(pub.n)+rec.Dropped() != requests {
		t.Errorf("published %d + dropped %d != %d requests", pub.n, rec.Dropped(), requests)
	}
}

// counter reads a counter's value from reg.
func counter(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}

func TestEventsReachTheStream(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nc, js, err := bus.Connect(natstest.Start(t), "apilog-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	stream, err := bus.EnsureStream(ctx, js, bus.DefaultStream())
	if err != nil {
		t.Fatal(err)
	}
	otel.SetTracerProvider(sdktrace.NewTracerProvider())
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	rec := apilog.New(bus.NewPublisher(js), 16, 1, prometheus.NewRegistry(), quiet())
	e := engine(rec, tm)

	tok, _, _ := tm.Issue(7, access.RoleStaff, "s")
	req := httptest.NewRequest("GET", "/user_request/REQ000001?access_token=super-secret", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("User-Agent", "e2e-agent")
	req.RemoteAddr = "198.51.100.4:5555"
	w := httptest.NewRecorder()
	e.ServeHTTP(w, req)
	if err := rec.Close(ctx); err != nil {
		t.Fatal(err)
	}

	msg, err := stream.GetLastMsgForSubject(ctx, "support.api.request")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(msg.Data), "super-secret") || strings.Contains(string(msg.Data), tok) {
		t.Fatalf("the event holds the query string or the token: %s", msg.Data)
	}
	ev, err := events.Decode(msg.Data)
	if err != nil {
		t.Fatal(err)
	}
	var data events.APIRequest
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		t.Fatal(err)
	}
	if data.Method != "GET" || data.Route != "/user_request/:id" || data.Path != "/user_request/REQ000001" ||
		data.StatusCode != 200 || data.UserID == nil || *data.UserID != 7 || data.Role != "staff" ||
		data.IPAddress != "198.51.100.4" || data.UserAgent != "e2e-agent" || len(data.TraceID) != 32 || data.ProcessTime <= 0 {
		t.Errorf("event data = %+v", data)
	}
	if ev.ActorID != "7" || ev.ActorRole != "staff" || ev.Type != events.TypeAPIRequest {
		t.Errorf("event = %+v", ev)
	}
}
