package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// stats is the answer of GET /admin/logs/stats: the seed's four counts,
// then the counts by status class and by action and the latency
// percentiles (seconds; null when the period has no API call).
type stats struct {
	PeriodHours    int              `json:"period_hours"`
	APIRequests    int64            `json:"api_requests"`
	RequestActions int64            `json:"request_actions"`
	TotalLogs      int64            `json:"total_logs"`
	ByStatusClass  map[string]int64 `json:"by_status_class"`
	ByAction       map[string]int64 `json:"by_action"`
	LatencyP50     *float64         `json:"latency_p50"`
	LatencyP95     *float64         `json:"latency_p95"`
}

// stats serves GET /admin/logs/stats.
func (h *handler) stats(c *gin.Context) {
	q := &query{c: c} // not a list: no paging
	hours := q.integer("hours_ago", audit.DefaultHoursAgo)
	if err := q.failed(func() []fault.FieldError { return audit.ValidateHours(hours) }); err != nil {
		web.Error(c, h.logger, err)
		return
	}
	st, err := h.svc.Stats(c.Request.Context(), hours)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(http.StatusOK, stats{
		PeriodHours:    st.PeriodHours,
		APIRequests:    st.Calls,
		RequestActions: st.Actions,
		TotalLogs:      st.Total,
		ByStatusClass:  st.ByStatusClass,
		ByAction:       st.ByAction,
		LatencyP50:     st.LatencyP50,
		LatencyP95:     st.LatencyP95,
	})
}
