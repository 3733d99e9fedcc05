package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// requestAction is one item of GET /admin/logs/request-actions: a change
// of a ticket (with the ticket before and after it) or a read (both null).
type requestAction struct {
	ID        string          `json:"id"`
	Timestamp time.Time       `json:"timestamp"`
	Action    string          `json:"action"`
	EventType string          `json:"event_type"`
	RequestID *int64          `json:"request_id"`
	UserID    *int64          `json:"user_id"`
	Role      *string         `json:"role"`
	Subject   string          `json:"subject"`
	TraceID   *string         `json:"trace_id"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
}

func toRequestAction(e audit.Entry) requestAction {
	before, after := e.Change()
	ra := requestAction{
		ID:        e.EventID,
		Timestamp: e.Time.UTC(),
		Action:    e.Action,
		EventType: e.Type,
		Role:      nonEmpty(strings.ToLower(e.ActorRole)),
		Subject:   e.Subject,
		TraceID:   nonEmpty(e.TraceID),
		Before:    orNull(before),
		After:     orNull(after),
	}
	if e.RequestID > 0 {
		ra.RequestID = &e.RequestID
	}
	if id, err := strconv.ParseInt(e.ActorID, 10, 64); err == nil {
		ra.UserID = &id
	}
	return ra
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// requestActions serves GET /admin/logs/request-actions.
func (h *handler) requestActions(c *gin.Context) {
	q := newQuery(c)
	f := audit.DefaultFilter()
	f.RequestID = q.id("request_id")
	f.UserID = q.id("user_id")
	f.Action = c.Query("action")
	f.HoursAgo = q.integer("hours_ago", f.HoursAgo)
	list(c, h.logger, q, f, audit.Validate, h.svc.RequestActions, toRequestAction)
}
