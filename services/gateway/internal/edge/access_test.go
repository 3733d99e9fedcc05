package edge_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/services/gateway/internal/route"
)

// infrastructure routes every engine serves outside the API table.
var infrastructure = map[string]bool{
	"GET /metrics": true, "GET /health": true, "GET /health/live": true, "GET /health/ready": true,
}

// TestEveryRouteAgainstEveryRole walks the router's own route list, so a
// route added to the gateway without an entry in the table, or with the
// wrong guard, fails here.
func TestEveryRouteAgainstEveryRole(t *testing.T) {
	upstreamHit := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamHit++
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	e, tm := setup(t, map[route.Upstream]*url.URL{route.Auth: u, route.Tickets: u, route.Audit: u, route.Webhooks: u})
	e.GET("/health", func(c *gin.Context) {}) // as main.go does
	wrapped := httptest.NewServer(e)
	defer wrapped.Close()

	table := map[string]route.Route{}
	for _, r := range route.Table() {
		table[r.Method+" "+r.Path] = r
	}
	roles := []access.Role{"", access.RoleUser, access.RoleStaff, access.RoleAdmin}
	seen := 0
	for _, ri := range e.Routes() {
		key := ri.Method + " " + ri.Path
		if infrastructure[key] {
			continue
		}
		r, ok := table[key]
		if !ok {
			t.Errorf("%s is served but not in route.Table(): it has no declared guard", key)
			continue
		}
		seen++
		for _, role := range roles {
			want := http.StatusOK
			switch {
			case r.Public:
			case role == "":
				want = http.StatusUnauthorized
			case r.Permission != "" && !access.Has(role, r.Permission):
				want = http.StatusForbidden
			}
			name := string(role)
			if name == "" {
				name = "anonymous"
			}
			t.Run(key+"/"+name, func(t *testing.T) {
				path := strings.ReplaceAll(ri.Path, ":id", "1")
				req, _ := http.NewRequest(ri.Method, wrapped.URL+path, strings.NewReader("{}"))
				if role != "" {
					tok, _, _ := tm.Issue(9, role, "s9")
					req.Header.Set("Authorization", "Bearer "+tok)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != want {
					t.Errorf("= %d, want %d", resp.StatusCode, want)
				}
			})
		}
	}
	if seen != len(table) {
		t.Errorf("router serves %d of the %d routes of the table", seen, len(table))
	}
	if upstreamHit == 0 {
		t.Error("no request reached the upstream")
	}
}
