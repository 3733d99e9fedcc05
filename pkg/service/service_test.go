package service_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

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
