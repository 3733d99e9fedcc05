package api

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// requestAction is one item of GET /admin/logs/request-actions.
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

// parseRequestActions reads the query of GET /admin/logs/request-actions.
// Every bad parameter is reported, by name, in one 422 answer.
func parseRequestActions(c *gin.Context) (audit.Filter, audit.Page, error) {
	wp, fields := web.ParsePage(c, audit.DefaultPageSize, audit.MaxPageSize)
	p := audit.Page{Number: wp.Number, Size: wp.Size}
	f := audit.DefaultFilter()
	q := query{c: c, fields: fields}
	f.RequestID = q.id("request_id")
	f.UserID = q.id("user_id")
	f.Action = c.Query("action")
	f.HoursAgo = q.integer("hours_ago", f.HoursAgo)
	// A parameter that did not parse kept its (valid) default, so Validate
	// reports only the others.
	fields = append(q.fields, audit.Validate(f, p)...)
	if len(fields) > 0 {
		return audit.Filter{}, audit.Page{}, fault.Fields(fields...)
	}
	return f, p, nil
}

// query parses query parameters as web.ParsePage does, collecting a field
// error for each value that does not parse; an absent parameter keeps its
// default.
type query struct {
	c      *gin.Context
	fields []fault.FieldError
}

func (q *query) integer(name string, def int) int {
	v, ok := q.c.GetQuery(name)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		q.fields = append(q.fields, fault.FieldError{Field: name, Message: "must be an integer"})
		return def
	}
	return n
}

// id parses a positive integer id; absent is 0, which does not filter.
func (q *query) id(name string) int64 {
	v, ok := q.c.GetQuery(name)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1 {
		q.fields = append(q.fields, fault.FieldError{Field: name, Message: "must be a positive integer"})
		return 0
	}
	return n
}
