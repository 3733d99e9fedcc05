package api

import (
	"errors"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/ids"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// parseFilter reads the contract's ticket filters: status, staff_id,
// owner_id, date_from, date_to (created_at bounds; a date-only date_to
// includes that day), unassigned, sla and the search q. Every bad parameter is
// a field error.
func parseFilter(c *gin.Context) (ticket.Filter, []fault.FieldError) {
	var f ticket.Filter
	var fields []fault.FieldError
	bad := func(field, msg string) { fields = append(fields, fault.FieldError{Field: field, Message: msg}) }
	if raw, ok := c.GetQuery("status"); ok {
		s := ticket.Status(raw)
		if !s.Valid() {
			bad("status", "must be one of new, in_progress, completed, closed")
		}
		f.Status = &s
	}
	for name, dst := range map[string]**int64{"staff_id": &f.StaffID, "owner_id": &f.OwnerID} {
		if raw, ok := c.GetQuery(name); ok {
			id, err := web.ParseID(raw, ids.User)
			if err != nil {
				bad(name, "must be a user id")
				continue
			}
			*dst = &id
		}
	}
	for _, b := range []struct {
		name  string
		upper bool
	}{{"date_from", false}, {"date_to", true}} {
		raw, ok := c.GetQuery(b.name)
		if !ok {
			continue
		}
		t, err := ticket.ParseTimeBound(b.name, raw, b.upper)
		if fe, isFault := errors.AsType[*fault.Error](err); isFault {
			fields = append(fields, fe.Fields...)
			continue
		}
		if b.upper {
			f.CreatedLT = &t
		} else {
			f.CreatedGTE = &t
		}
	}
	if raw, ok := c.GetQuery("q"); ok {
		q, fe := ticket.ParseQuery(raw)
		if fe != nil {
			fields = append(fields, *fe)
		}
		f.Query = q
	}
	if raw, ok := c.GetQuery("sla"); ok {
		f.SLA = ticket.SLAFilter(raw)
		if !f.SLA.Valid() {
			bad("sla", "must be one of breached, at_risk, ok")
		}
	}
	if raw, ok := c.GetQuery("unassigned"); ok {
		v, err := strconv.ParseBool(raw)
		if err != nil {
			bad("unassigned", "must be true or false")
		}
		f.Unassigned = v
	}
	return f, fields
}

// parseList reads the filters, the page and an optional cursor.
func parseList(c *gin.Context) (ticket.Filter, ticket.Page, error) {
	f, fields := parseFilter(c)
	p, pageFields := web.ParsePage(c, 50, 100)
	fields = append(fields, pageFields...)
	page := ticket.Page{Number: p.Number, Size: p.Size}
	if raw, ok := c.GetQuery("cursor"); ok && raw != "" {
		cur, err := ticket.ParseCursor(raw)
		if fe, isFault := errors.AsType[*fault.Error](err); isFault {
			fields = append(fields, fe.Fields...)
		} else {
			page.After = &cur
		}
	}
	if fe := page.CheckDepth(); fe != nil && len(pageFields) == 0 {
		fields = append(fields, *fe)
	}
	if len(fields) > 0 {
		return ticket.Filter{}, ticket.Page{}, fault.Fields(fields...)
	}
	return f, page, nil
}
