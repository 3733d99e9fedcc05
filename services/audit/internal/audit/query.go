package audit

import (
	"fmt"
	"strings"
	"time"

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
	// MaxTextFilter bounds the free-text filters of the events log (type,
	// subject, actor), which match exactly.
	MaxTextFilter = 200
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

// CallFilter narrows the API log. Zero fields do not filter, except
// HoursAgo, how far back the log reaches.
type CallFilter struct {
	Method     string // upper case
	StatusCode int
	UserID     int64
	HoursAgo   int
}

// DefaultCallFilter is the filter of a query that sets no parameter.
func DefaultCallFilter() CallFilter { return CallFilter{HoursAgo: DefaultHoursAgo} }

// EventFilter narrows the events log. Empty fields do not filter. Since is
// inclusive and Until exclusive.
type EventFilter struct {
	Type    string
	Subject string
	ActorID string // as in the events' actorid attribute
	Since   time.Time
	Until   time.Time
}

// Page is a page number, from 1, and a page size.
type Page struct {
	Number int
	Size   int
}

// FirstPage is the page of a query that sets no paging parameter.
func FirstPage() Page { return Page{Number: 1, Size: DefaultPageSize} }

func (p Page) offset() int64 { return int64(p.Number-1) * int64(p.Size) }

// Methods are the HTTP methods the API log can be filtered on.
var methods = [...]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// fieldErrors collects the invalid parameters of one query.
type fieldErrors []fault.FieldError

func (fe *fieldErrors) add(field, format string, args ...any) {
	*fe = append(*fe, fault.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (fe *fieldErrors) page(p Page) {
	if p.Number < 1 || p.Number > MaxPage {
		fe.add("page", "must be between 1 and %d", MaxPage)
	}
	if p.Size < 1 || p.Size > MaxPageSize {
		fe.add("size", "must be between 1 and %d", MaxPageSize)
	}
}

func (fe *fieldErrors) hours(h int) {
	if h < 1 || h > MaxHoursAgo {
		fe.add("hours_ago", "must be between 1 and %d", MaxHoursAgo)
	}
}

func (fe *fieldErrors) id(field string, id int64) {
	if id < 0 {
		fe.add(field, "must be a positive integer")
	}
}

func (fe *fieldErrors) text(field, v string) {
	if len(v) > MaxTextFilter {
		fe.add(field, "must be at most %d characters", MaxTextFilter)
	}
}

// Validate returns one field error for each parameter of f and p out of its
// bounds, named as the query parameter is; none when all are valid.
func Validate(f Filter, p Page) []fault.FieldError {
	var fe fieldErrors
	fe.page(p)
	fe.id("request_id", f.RequestID)
	fe.id("user_id", f.UserID)
	if f.Action != "" && !ValidAction(f.Action) {
		fe.add("action", "must be one of %s", strings.Join(actions[:], ", "))
	}
	fe.hours(f.HoursAgo)
	return fe
}

// ValidateCalls is Validate for the API log.
func ValidateCalls(f CallFilter, p Page) []fault.FieldError {
	var fe fieldErrors
	fe.page(p)
	if f.Method != "" && !validMethod(f.Method) {
		fe.add("method", "must be one of %s", strings.Join(methods[:], ", "))
	}
	if f.StatusCode != 0 && (f.StatusCode < 100 || f.StatusCode > 599) {
		fe.add("status_code", "must be an HTTP status code from 100 to 599")
	}
	fe.id("user_id", f.UserID)
	fe.hours(f.HoursAgo)
	return fe
}

// ValidateEvents is Validate for the events log.
func ValidateEvents(f EventFilter, p Page) []fault.FieldError {
	var fe fieldErrors
	fe.page(p)
	fe.text("type", f.Type)
	fe.text("subject", f.Subject)
	fe.text("actor_id", f.ActorID)
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		fe.add("until", "must be after since")
	}
	return fe
}

// ValidateHours is Validate for the statistics, which only take hours_ago.
func ValidateHours(hoursAgo int) []fault.FieldError {
	var fe fieldErrors
	fe.hours(hoursAgo)
	return fe
}

func validMethod(m string) bool {
	for _, v := range methods {
		if v == m {
			return true
		}
	}
	return false
}

func fieldsError(fields []fault.FieldError) error { return fault.Fields(fields...) }

// ActionQuery selects entries that record ticket actions, reads included.
// Zero fields do not filter.
type ActionQuery struct {
	RequestID int64
	ActorID   int64
	Action    string
	Since     time.Time
	Offset    int64
	Limit     int64
}

// CallQuery selects the entries of API calls. Zero fields do not filter.
type CallQuery struct {
	Method     string
	StatusCode int
	ActorID    int64
	Since      time.Time
	Offset     int64
	Limit      int64
}

// EventQuery selects entries of any type. Zero fields do not filter;
// ExcludeType leaves out the entries of one type.
type EventQuery struct {
	Type        string
	ExcludeType string
	Subject     string
	ActorID     string
	Since       time.Time // inclusive
	Until       time.Time // exclusive
	Offset      int64
	Limit       int64
}
