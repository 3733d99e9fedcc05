package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryRouteNeedsAToken walks the service's own route list: a route
// added without authentication fails here.
func TestEveryRouteNeedsAToken(t *testing.T) {
	e := setup(t)
	for _, r := range e.engine.Routes() {
		if r.Path == "/metrics" {
			continue
		}
		t.Run(r.Method+" "+r.Path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.engine.ServeHTTP(rec, httptest.NewRequest(r.Method, strings.ReplaceAll(r.Path, ":id", "1"), strings.NewReader("{}")))
			if rec.Code != 401 {
				t.Errorf("= %d, want 401", rec.Code)
			}
		})
	}
}
