package api

import (
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// apiLog is one item of GET /admin/logs/api-logs: one call, or Count calls
// of one client to one route that the gateway refused within a minute.
type apiLog struct {
	ID          string    `json:"id"`
	Timestamp   time.Time `json:"timestamp"`
	Method      string    `json:"method"`
	Path        string    `json:"path"`
	Route       string    `json:"route"`
	StatusCode  int       `json:"status_code"`
	ProcessTime float64   `json:"process_time"`
	IPAddress   *string   `json:"ip_address"`
	UserAgent   *string   `json:"user_agent"`
	UserID      *int64    `json:"user_id"`
	Role        *string   `json:"role"`
	RequestID   *string   `json:"request_id"`
	TraceID     *string   `json:"trace_id"`
	Count       int64     `json:"count"`
}

func toAPILog(e audit.Entry) apiLog {
	l := apiLog{ID: e.EventID, Timestamp: e.Time.UTC(), TraceID: nonEmpty(e.TraceID), Count: e.Weight()}
	c := e.Call
	if c == nil {
		return l
	}
	l.Method, l.Path, l.Route = c.Method, c.Path, c.Route
	l.StatusCode, l.ProcessTime = c.StatusCode, c.ProcessTime
	l.IPAddress, l.UserAgent = nonEmpty(c.IPAddress), nonEmpty(c.UserAgent)
	l.UserID = c.UserID
	l.Role = nonEmpty(strings.ToLower(c.Role))
	l.RequestID = nonEmpty(c.RequestID)
	if c.TraceID != "" {
		l.TraceID = &c.TraceID
	}
	return l
}

// apiLogs serves GET /admin/logs/api-logs.
func (h *handler) apiLogs(c *gin.Context) {
	q := newQuery(c)
	f := audit.DefaultCallFilter()
	f.Method = strings.ToUpper(c.Query("method"))
	f.StatusCode = q.integer("status_code", 0)
	f.UserID = q.id("user_id")
	f.HoursAgo = q.integer("hours_ago", f.HoursAgo)
	list(c, h.logger, q, f, audit.ValidateCalls, h.svc.APILogs, toAPILog)
}
