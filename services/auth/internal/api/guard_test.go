package api_test

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// TestEveryRouteNeedsAToken walks the service's own route list: every route
// but the public ones answers 401 to a caller without a token, so a route
// added without authentication fails here.
func TestEveryRouteNeedsAToken(t *testing.T) {
	e := setup(t)
	public := map[string]bool{"POST /auth/register": true, "POST /auth/login": true, "POST /auth/refresh": true, "GET /metrics": true}
	for _, r := range e.engine.Routes() {
		key := r.Method + " " + r.Path
		if public[key] {
			continue
		}
		t.Run(key, func(t *testing.T) {
			rec := httptest.NewRecorder()
			e.engine.ServeHTTP(rec, httptest.NewRequest(r.Method, strings.ReplaceAll(r.Path, ":id", "1"), strings.NewReader("{}")))
			if rec.Code != 401 {
				t.Errorf("= %d, want 401", rec.Code)
			}
		})
	}
}
