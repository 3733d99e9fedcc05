package api

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
)

// TestRequireAny checks the either-permission guard with permission pairs
// that the fixed roles split, since no role holds view-statistics without
// view-logs.
func TestRequireAny(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := web.NewEngine(slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	e.GET("/logs-or-create", web.Authenticate(tm), web.Require(access.ViewLogs, access.CreateRequest), ok)
	e.GET("/manage-or-logs", web.Authenticate(tm), web.Require(access.ManageRequests, access.ViewLogs), ok)
	e.GET("/stats", web.Authenticate(tm), web.Require(access.ViewLogs, access.ViewStatistics), ok)
	tests := []struct {
		path string
		role access.Role
		want int
	}{
		{"/logs-or-create", access.RoleUser, 204},  // the second permission
		{"/logs-or-create", access.RoleAdmin, 204}, // both
		{"/logs-or-create", access.RoleStaff, 403}, // neither
		{"/manage-or-logs", access.RoleStaff, 204}, // the first permission
		{"/manage-or-logs", access.RoleUser, 403},
		{"/stats", access.RoleAdmin, 204},
		{"/stats", access.RoleStaff, 403},
		{"/stats", access.RoleUser, 403},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+string(tt.role), func(t *testing.T) {
			tok, _, err := tm.Issue(1, tt.role, "s")
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("= %d, want %d; body %s", rec.Code, tt.want, rec.Body)
			}
			if tt.want == 403 && !strings.Contains(rec.Body.String(), " or ") {
				t.Errorf("403 does not name both permissions: %s", rec.Body)
			}
		})
	}
}
