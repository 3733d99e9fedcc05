package api

import (
	"errors"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// query parses query parameters as web.ParsePage does, collecting a field
// error for each value that does not parse; an absent parameter keeps its
// default.
type query struct {
	c      *gin.Context
	page   audit.Page
	fields []fault.FieldError
}

// newQuery reads the paging parameters of c, as every log list takes them:
// page and size, or a cursor (with size) for the page after a previous one.
func newQuery(c *gin.Context) *query {
	wp, fields := web.ParsePage(c, audit.DefaultPageSize, audit.MaxPageSize)
	q := &query{c: c, page: audit.Page{Number: wp.Number, Size: wp.Size}, fields: fields}
	if raw, ok := c.GetQuery("cursor"); ok && raw != "" {
		cur, err := audit.ParseCursor(raw)
		if fe, isFault := errors.AsType[*fault.Error](err); isFault {
			q.fields = append(q.fields, fe.Fields...)
		} else {
			q.page.After = &cur
		}
	}
	return q
}

// failed returns the validation fault of a query with a parameter that did
// not parse, or nil. The fault names those parameters and every other one
// that domain (the domain's validation of the query) finds out of bounds,
// so that one answer lists every mistake; a query whose parameters all
// parse is validated by the service alone.
func (q *query) failed(domain func() []fault.FieldError) error {
	if len(q.fields) == 0 {
		return nil
	}
	return fault.Fields(append(q.fields, domain()...)...)
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

// time parses an RFC 3339 time; absent is the zero time, which does not
// filter.
func (q *query) time(name string) time.Time {
	v, ok := q.c.GetQuery(name)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		q.fields = append(q.fields, fault.FieldError{Field: name, Message: "must be an RFC 3339 time, like 2026-03-14T15:09:26Z"})
		return time.Time{}
	}
	return t
}
