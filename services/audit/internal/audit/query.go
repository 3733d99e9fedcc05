package audit

import (
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Bounds and defaults of the log queries' parameters (docs/API.md,
// "Conventions" and "Logs").
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
	// MaxOffset bounds paging by number: a page must end within the first
	// MaxOffset entries of its list (page × size ≤ MaxOffset). Deeper pages
	// are read by cursor, which costs the same at any depth, where an
	// offset costs reading every entry before it.
	MaxOffset = 10_000
	// CountLimit bounds the count of a list: total is exact up to it; past
	// it a page says total = CountLimit and that it is a lower bound
	// (Listing.Capped), so that no request counts a large part of the log.
	CountLimit      = 10_000
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

// Page is a page of a log: by number from 1, or, when After is set, the
// page of entries that follow After in the log's order (a keyset page,
// which is not counted).
type Page struct {
	Number int
	Size   int
	After  *Cursor
}

// FirstPage is the page of a query that sets no paging parameter.
func FirstPage() Page { return Page{Number: 1, Size: DefaultPageSize} }

func (p Page) offset() int64 {
	if p.After != nil {
		return 0
	}
	return int64(p.Number-1) * int64(p.Size)
}

// Cursor is the position of an entry in a log's order (time, then event id,
// both descending): a keyset page starts after it.
type Cursor struct {
	Time    time.Time
	EventID string
}

// CursorOf returns the position of e.
func CursorOf(e Entry) Cursor { return Cursor{Time: e.Time, EventID: e.EventID} }

// String encodes c for the next_cursor of a page.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.Time.UTC().Format(time.RFC3339Nano) + " " + c.EventID))
}

// ParseCursor reads a cursor made by Cursor.String. A cursor that is not
// one fails with a fault.Validation error on the cursor parameter.
func ParseCursor(s string) (Cursor, error) {
	invalid := fault.Fields(fault.FieldError{Field: "cursor", Message: "must be the next_cursor of a previous page"})
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 200 {
		return Cursor{}, invalid
	}
	ts, id, ok := strings.Cut(string(raw), " ")
	if !ok || id == "" {
		return Cursor{}, invalid
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil || t.UTC().Year() < 0 || t.UTC().Year() > 9999 {
		// String writes the time in UTC, as RFC 3339 with a four-digit
		// year: an offset that moves it out of years 0 to 9999 is no
		// cursor of String's.
		return Cursor{}, invalid
	}
	return Cursor{Time: t.UTC(), EventID: id}, nil
}

// Methods are the HTTP methods the API log can be filtered on.
var methods = [...]string{"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}

// fieldErrors collects the invalid parameters of one query.
type fieldErrors []fault.FieldError

func (fe *fieldErrors) add(field, format string, args ...any) {
	*fe = append(*fe, fault.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (fe *fieldErrors) page(p Page) {
	if p.Size < 1 || p.Size > MaxPageSize {
		fe.add("size", "must be between 1 and %d", MaxPageSize)
		return
	}
	if p.After != nil {
		return
	}
	if p.Number < 1 || int64(p.Number)*int64(p.Size) > MaxOffset {
		fe.add("page", "must be between 1 and %d for size %d (page × size at most %d); follow next_cursor to read further",
			max(1, MaxOffset/p.Size), p.Size, MaxOffset)
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

// Log names the part of the store a query lists.
type Log int

// The logs a query can list.
const (
	AllEntries     Log = iota // every entry
	CallEntries               // the API log: entries with a Call
	ActionEntries             // the request-actions log: entries with an Action
	NotCallEntries            // every entry but the API log's
)

// Query selects the entries of one page of a log. Zero fields do not
// filter. Entries come newest first: by time, then event id, descending.
type Query struct {
	Log        Log
	Type       string
	Subject    string
	ActorID    string // as stored: a user id in decimal, or any other actor
	Action     string
	RequestID  int64
	Method     string
	StatusCode int
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	// After, when set, starts the page after that entry; Offset otherwise
	// skips that many entries.
	After  *Cursor
	Offset int64
	Limit  int64
	// CountUpTo asks for the number of entries selected, counted up to
	// that bound; 0 counts nothing.
	CountUpTo int64
}

// Listing is one page of entries and, when the query asked, how many
// entries the query selects in all: Total, exact when not Capped, else at
// least Total.
type Listing struct {
	Entries []Entry
	Counted bool
	Total   int64
	Capped  bool
}
