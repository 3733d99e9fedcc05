package audit

import (
	"fmt"
	"strings"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Bounds and defaults of the log queries' parameters (API_CONTRACT.md,
// "Conventions" and "Logs").
const (
	MaxPage         = 1_000_000 // keeps the offset far from overflow, as web.ParsePage
	DefaultPageSize = 50
	MaxPageSize     = 1000
	DefaultHoursAgo = 24
	MaxHoursAgo     = 168
)

// Filter narrows the request-actions log. A zero id and an empty action do
// not filter (a negative id is invalid); HoursAgo is how far back the log
// reaches.
type Filter struct {
	RequestID int64
	UserID    int64
	Action    string
	HoursAgo  int
}

// DefaultFilter is the filter of a query that sets no parameter.
func DefaultFilter() Filter { return Filter{HoursAgo: DefaultHoursAgo} }

// Page is a page number, from 1, and a page size.
type Page struct {
	Number int
	Size   int
}

// FirstPage is the page of a query that sets no paging parameter.
func FirstPage() Page { return Page{Number: 1, Size: DefaultPageSize} }

// Validate returns one field error for each parameter of f and p out of its
// bounds, named as the query parameter is; none when all are valid.
func Validate(f Filter, p Page) []fault.FieldError {
	var fields []fault.FieldError
	add := func(field, format string, args ...any) {
		fields = append(fields, fault.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if p.Number < 1 || p.Number > MaxPage {
		add("page", "must be between 1 and %d", MaxPage)
	}
	if p.Size < 1 || p.Size > MaxPageSize {
		add("size", "must be between 1 and %d", MaxPageSize)
	}
	if f.RequestID < 0 {
		add("request_id", "must be a positive integer")
	}
	if f.UserID < 0 {
		add("user_id", "must be a positive integer")
	}
	if f.Action != "" && !ValidAction(f.Action) {
		add("action", "must be one of %s", strings.Join(actions[:], ", "))
	}
	if f.HoursAgo < 1 || f.HoursAgo > MaxHoursAgo {
		add("hours_ago", "must be between 1 and %d", MaxHoursAgo)
	}
	return fields
}

func fieldsError(fields []fault.FieldError) error { return fault.Fields(fields...) }
