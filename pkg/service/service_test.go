package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/config"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/pgdb"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/pkg/service"
	"github.com/supportdesk/supportdesk/pkg/web"
)

func TestAdminServesTheProfilerAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	admin := service.Admin(reg)
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/metrics"} {
		rec := httptest.NewRecorder()
		admin.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("admin GET %s = %d, want 200", path, rec.Code)
		}
	}
	// The public engine has no profiler.
	public := web.NewEngine(nil, prometheus.NewRegistry())
	rec := httptest.NewRecorder()
	public.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("public GET /debug/pprof/ = %d, want 404", rec.Code)
	}
}

// The metrics are on the service's own port only while no admin listener
// serves them (the gateway's is on by default: its port is public).
func TestMetricsMoveToTheAdminListener(t *testing.T) {
	for admin, want := range map[string]int{"": http.StatusOK, "127.0.0.1:8010": http.StatusNotFound} {
		svc, err := service.Start(context.Background(), config.Common{ServiceName: "service-test", AdminAddr: admin}, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		svc.Engine().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		if rec.Code != want {
			t.Errorf("admin address %q: GET /metrics on the service's port = %d, want %d", admin, rec.Code, want)
		}
		var stopErr error
		svc.Stop(&stopErr)
	}
}

// The readiness route checks every part the service opened, and what
// Check added, without main listing them.
func TestReadinessChecksWhatTheServiceOpened(t *testing.T) {
	ctx := context.Background()
	svc, err := service.Start(ctx, config.Common{ServiceName: "service-test", NATSURL: natstest.Start(t)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m := pgdb.Migrations{FS: fstest.MapFS{"1_t.up.sql": {Data: []byte("CREATE TABLE t (id int);")}}, Table: "service_test_migrations"}
	if _, err := svc.Postgres(ctx, config.Secret(pgtest.NewDatabase(t)), m); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.NATS(ctx); err != nil {
		t.Fatal(err)
	}
	svc.Check("store", func(context.Context) error { return errors.New("store is down") })

	rec := httptest.NewRecorder()
	svc.Engine().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health/ready", nil))
	var h web.Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
		t.Fatalf("ready answered %q: %v", rec.Body, err)
	}
	want := map[string]string{"postgres": "up", "nats": "up", "store": "down"}
	if rec.Code != http.StatusServiceUnavailable || len(h.Components) != len(want) {
		t.Errorf("ready = %d %s, want 503 with %v", rec.Code, rec.Body, want)
	}
	for name, status := range want {
		if h.Components[name].Status != status {
			t.Errorf("%s is %q, want %q", name, h.Components[name].Status, status)
		}
	}

	var stopErr error
	svc.Stop(&stopErr)
	if stopErr != nil {
		t.Errorf("stop: %v", stopErr)
	}
}

// An operator's 3-replica stream keeps its replicas and retention while
// services configured otherwise start and stop; only the stream step
// changes it.
func TestStreamKeepsItsReplicasAcrossServiceRestarts(t *testing.T) {
	ctx := context.Background()
	cluster := natstest.StartCluster(t, 3)
	operator := config.Common{ServiceName: "operator", NATSURL: cluster.URL(), StreamReplicas: 3, EventsRetention: 30 * 24 * time.Hour}
	var out strings.Builder
	if err := service.StreamCommand(ctx, operator, nil, &out); err != nil {
		t.Fatal(err)
	}
	if want := "stream SUPPORT_EVENTS: 3 replicas, max age 720h0m0s\n"; out.String() != want {
		t.Errorf("stream printed %q, want %q", out.String(), want)
	}
	if err := service.StreamCommand(ctx, operator, []string{"now"}, io.Discard); err == nil {
		t.Error("stream took an argument")
	}

	for restart := range 2 {
		cfg := config.Common{ServiceName: "tickets", NATSURL: cluster.URL(), StreamReplicas: 1, EventsRetention: 24 * time.Hour}
		svc, err := service.Start(ctx, cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		_, js, err := svc.NATS(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := js.Stream(ctx, bus.StreamName)
		if err != nil {
			t.Fatal(err)
		}
		if c := s.CachedInfo().Config; c.Replicas != 3 || c.MaxAge != 30*24*time.Hour {
			t.Errorf("start %d: the stream has %d replicas and max age %s, want 3 and 720h", restart+1, c.Replicas, c.MaxAge)
		}
		var stopErr error
		svc.Stop(&stopErr)
		if stopErr != nil {
			t.Errorf("stop: %v", stopErr)
		}
	}
}
