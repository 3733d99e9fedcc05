package api

import (
	"encoding/json"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// event is one item of GET /admin/logs/events: the event's envelope and its
// data as it came.
type event struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Source    string          `json:"source"`
	Subject   *string         `json:"subject"`
	Time      time.Time       `json:"time"`
	ActorID   *string         `json:"actor_id"` // as the event's actorid: a user id, or null for the system
	ActorRole *string         `json:"actor_role"`
	TraceID   *string         `json:"trace_id"`
	Data      json.RawMessage `json:"data"`
}

func toEvent(e audit.Entry) event {
	return event{
		ID:        e.EventID,
		Type:      e.Type,
		Source:    e.Source,
		Subject:   nonEmpty(e.Subject),
		Time:      e.Time.UTC(),
		ActorID:   nonEmpty(e.ActorID),
		ActorRole: nonEmpty(e.ActorRole),
		TraceID:   nonEmpty(e.TraceID),
		Data:      orNull(e.Data),
	}
}

// events serves GET /admin/logs/events.
func (h *handler) events(c *gin.Context) {
	q := newQuery(c)
	f := audit.EventFilter{
		Type:    c.Query("type"),
		Subject: c.Query("subject"),
		ActorID: c.Query("actor_id"),
		Since:   q.time("since"),
		Until:   q.time("until"),
	}
	list(c, h.logger, q, f, audit.ValidateEvents, h.svc.Events, toEvent)
}
