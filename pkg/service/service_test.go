package service_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"

	"github.com/prometheus/client_golang/prometheus"

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
	public := web.NewEngine("test", nil, prometheus.NewRegistry())
	rec := httptest.NewRecorder()
	public.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/debug/pprof/", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("public GET /debug/pprof/ = %d, want 404", rec.Code)
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
