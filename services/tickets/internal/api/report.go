package api

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// Reporter is what the report handlers need of the ticket reports.
type Reporter interface {
	Statistics(ctx context.Context, a ticket.Actor) (ticket.Statistics, error)
	Workload(ctx context.Context, a ticket.Actor) ([]ticket.Workload, error)
	Export(ctx context.Context, a ticket.Actor, f ticket.Filter, write func(ticket.ExportRow) error) error
}

// countsJSON is a ticket count by status, as both reports name it.
type countsJSON struct {
	TotalRequests      int64 `json:"total_requests"`
	NewRequests        int64 `json:"new_requests"`
	InProgressRequests int64 `json:"in_progress_requests"`
	CompletedRequests  int64 `json:"completed_requests"`
	ClosedRequests     int64 `json:"closed_requests"`
}

func toCountsJSON(c ticket.Counts) countsJSON {
	return countsJSON{
		TotalRequests: c.Total, NewRequests: c.New, InProgressRequests: c.InProgress,
		CompletedRequests: c.Completed, ClosedRequests: c.Closed,
	}
}

// priorityJSON always carries the four priorities.
type priorityJSON struct {
	Low    int64 `json:"low"`
	Normal int64 `json:"normal"`
	High   int64 `json:"high"`
	Urgent int64 `json:"urgent"`
}

// statisticsJSON is the seed's statistics object with the new fields.
type statisticsJSON struct {
	countsJSON
	TotalUsers                 int64        `json:"total_users"`
	TotalStaff                 int64        `json:"total_staff"`
	RequestsByPriority         priorityJSON `json:"requests_by_priority"`
	MedianFirstResponseSeconds *float64     `json:"median_first_response_seconds"`
	MedianResolutionSeconds    *float64     `json:"median_resolution_seconds"`
	SLAByPriority              slaStatsJSON `json:"sla_by_priority"`
}

// slaStatsJSON always carries the four priorities.
type slaStatsJSON struct {
	Low    breachesJSON `json:"low"`
	Normal breachesJSON `json:"normal"`
	High   breachesJSON `json:"high"`
	Urgent breachesJSON `json:"urgent"`
}

// breachesJSON are one priority's SLA breaches; a rate is the share of the
// tickets with SLA clocks, null when there are none.
type breachesJSON struct {
	Tickets                 int64    `json:"tickets"`
	FirstResponseBreached   int64    `json:"first_response_breached"`
	FirstResponseBreachRate *float64 `json:"first_response_breach_rate"`
	ResolutionBreached      int64    `json:"resolution_breached"`
	ResolutionBreachRate    *float64 `json:"resolution_breach_rate"`
}

func toBreachesJSON(b ticket.Breaches) breachesJSON {
	rate := func(n int64) *float64 {
		if b.Tickets == 0 {
			return nil
		}
		r := float64(n) / float64(b.Tickets)
		return &r
	}
	return breachesJSON{
		Tickets:               b.Tickets,
		FirstResponseBreached: b.FirstResponseBreached, FirstResponseBreachRate: rate(b.FirstResponseBreached),
		ResolutionBreached: b.ResolutionBreached, ResolutionBreachRate: rate(b.ResolutionBreached),
	}
}

func secondsOf(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	s := d.Seconds()
	return &s
}

func toStatisticsJSON(s ticket.Statistics) statisticsJSON {
	return statisticsJSON{
		countsJSON: toCountsJSON(s.Requests),
		TotalUsers: s.Users,
		TotalStaff: s.Staff,
		RequestsByPriority: priorityJSON{
			Low: s.ByPriority[ticket.PriorityLow], Normal: s.ByPriority[ticket.PriorityNormal],
			High: s.ByPriority[ticket.PriorityHigh], Urgent: s.ByPriority[ticket.PriorityUrgent],
		},
		MedianFirstResponseSeconds: secondsOf(s.MedianFirstResponse),
		MedianResolutionSeconds:    secondsOf(s.MedianResolution),
		SLAByPriority: slaStatsJSON{
			Low: toBreachesJSON(s.SLA[ticket.PriorityLow]), Normal: toBreachesJSON(s.SLA[ticket.PriorityNormal]),
			High: toBreachesJSON(s.SLA[ticket.PriorityHigh]), Urgent: toBreachesJSON(s.SLA[ticket.PriorityUrgent]),
		},
	}
}

func (h *Handler) statistics(c *gin.Context) {
	s, err := h.reports.Statistics(c.Request.Context(), actor(c))
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(http.StatusOK, toStatisticsJSON(s))
}

// workloadJSON is one staff member's line of the workload report.
type workloadJSON struct {
	ID        int64  `json:"id"`
	DisplayID string `json:"display_id"`
	Email     string `json:"email"`
	countsJSON
}

func (h *Handler) workload(c *gin.Context) {
	list, err := h.reports.Workload(c.Request.Context(), actor(c))
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	out := make([]workloadJSON, len(list))
	for i, w := range list {
		u := toUserJSON(w.Staff)
		out[i] = workloadJSON{ID: u.ID, DisplayID: u.DisplayID, Email: u.Email, countsJSON: toCountsJSON(w.Counts)}
	}
	c.JSON(http.StatusOK, out)
}

// exportHeader is the seed's column row, with the new columns at the end.
var exportHeader = []string{
	"ID", "Request Text", "Status", "Created At", "Updated At", "Owner Email", "Owner Name", "Owner INN",
	"Owner Phone", "Staff Email", "Staff Comment", "Title", "Priority", "Category",
}

// exportFlushEvery is how many rows the export buffers before it pushes
// them to the client.
const exportFlushEvery = 100

// exportTime is the export's time format, in UTC.
const exportTime = time.DateTime

// neutralise defuses a cell that a spreadsheet could read as a formula. A
// spreadsheet may split a cell on a separator of its own (a semicolon,
// comma, tab or bar) or on a line break, so every piece starting after one
// is checked as well as the cell's start: where the first non-blank
// character of a piece is one of = + - @ (or a tab or CR that could hide
// one), a single quote goes before it. "a;=1+1" becomes "a;'=1+1".
func neutralise(s string) string {
	if !strings.ContainsAny(s, formulaStarts) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	pieceStart := true
	for i := range len(s) {
		c := s[i]
		if pieceStart && c != ' ' {
			if strings.IndexByte(formulaStarts, c) >= 0 {
				b.WriteByte('\'')
			}
			pieceStart = false
		}
		b.WriteByte(c)
		if strings.IndexByte(cellSeparators, c) >= 0 {
			pieceStart = true
		}
	}
	return b.String()
}

const (
	// formulaStarts are the characters a formula may start with.
	formulaStarts = "=+-@\t\r"
	// cellSeparators are those a spreadsheet may split a cell on.
	cellSeparators = ";,|\t\r\n"
)

// csvExport writes the export to an HTTP response: the header row, then
// each ticket as it comes, flushed every exportFlushEvery rows. It reuses
// one record, so a row costs the same however long the export.
type csvExport struct {
	w      *csv.Writer
	flush  http.Flusher
	record []string
	rows   int
}

func newCSVExport(w http.ResponseWriter) *csvExport {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true
	e := &csvExport{w: cw, record: make([]string, len(exportHeader))}
	e.flush, _ = w.(http.Flusher)
	return e
}

func (e *csvExport) header() error { return e.w.Write(exportHeader) }

func (e *csvExport) row(r ticket.ExportRow) error {
	rec := e.record
	rec[0] = strconv.FormatInt(r.ID, 10)
	rec[1] = neutralise(r.Text)
	rec[2] = neutralise(string(r.Status))
	rec[3] = r.CreatedAt.UTC().Format(exportTime)
	rec[4] = r.UpdatedAt.UTC().Format(exportTime)
	rec[5] = neutralise(r.OwnerEmail)
	rec[6] = neutralise(r.OwnerName())
	rec[7] = neutralise(r.OwnerINN)
	rec[8] = neutralise(r.OwnerPhone)
	rec[9] = neutralise(r.StaffEmail)
	rec[10] = neutralise(r.StaffComment)
	rec[11] = neutralise(r.Title)
	rec[12] = neutralise(string(r.Priority))
	rec[13] = neutralise(r.Category)
	if err := e.w.Write(rec); err != nil {
		return err
	}
	if e.rows++; e.rows%exportFlushEvery == 0 {
		return e.push()
	}
	return nil
}

// push sends what the CSV writer holds to the client.
func (e *csvExport) push() error {
	e.w.Flush()
	if err := e.w.Error(); err != nil {
		return err
	}
	if e.flush != nil {
		e.flush.Flush()
	}
	return nil
}

func (h *Handler) export(c *gin.Context) {
	f, fields := parseFilter(c)
	if len(fields) > 0 {
		web.Error(c, h.logger, fault.Fields(fields...))
		return
	}
	name := "requests_export_" + time.Now().UTC().Format("20060102_150405") + ".csv"
	hdr := c.Writer.Header()
	hdr.Set("Content-Type", "text/csv; charset=utf-8")
	hdr.Set("Content-Disposition", "attachment; filename="+name)
	c.Status(http.StatusOK)

	// Bytes reach the client only when the CSV writer's 4 KiB buffer fills
	// or is flushed; until then a failure (a forbidden caller, a failed
	// query) can still be a problem response.
	out := newCSVExport(c.Writer)
	err := out.header()
	if err == nil {
		err = h.reports.Export(c.Request.Context(), actor(c), f, out.row)
	}
	if err == nil {
		err = out.push()
	}
	if err == nil {
		return
	}
	if !c.Writer.Written() {
		hdr.Del("Content-Disposition")
		web.Error(c, h.logger, err)
		return
	}
	// The status and part of the file are gone. Abort the response, so
	// that the client sees a broken download rather than a file that looks
	// complete, and say so in the log.
	h.logger.WarnContext(c.Request.Context(), "export stopped midway", "err", err, "rows", out.rows)
	panic(http.ErrAbortHandler)
}
