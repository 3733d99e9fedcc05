package ticket

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Filter selects tickets. Zero fields select everything.
type Filter struct {
	Status     *Status
	OwnerID    *int64
	StaffID    *int64
	Unassigned bool
	CreatedGTE *time.Time // created_at >= (date_from)
	CreatedLT  *time.Time // created_at <  (date_to; a date-only bound is the next day's midnight)
	// Query is a web-search query (q): every word must match the title,
	// the text or a comment, -word must not, "a phrase" matches in order.
	// The list is then ranked by relevance.
	Query string
	// SLA selects by SLA clocks (staff and admin lists only).
	SLA SLAFilter
	// Internal lets Query match internal notes too; the service sets it
	// for staff and admins, never a client.
	Internal bool
}

// MaxQueryLength bounds q, in characters.
const MaxQueryLength = 200

// ParseQuery reads q, less surrounding white space, refusing one that
// cannot be a search: too long, not UTF-8, or holding control characters
// (PostgreSQL refuses NUL outright).
func ParseQuery(raw string) (string, *fault.FieldError) {
	q := strings.TrimSpace(raw)
	switch {
	case utf8.RuneCountInString(q) > MaxQueryLength:
		return "", &fault.FieldError{Field: "q", Message: fmt.Sprintf("must be at most %d characters", MaxQueryLength)}
	case !utf8.ValidString(q) || strings.ContainsFunc(q, unicode.IsControl):
		return "", &fault.FieldError{Field: "q", Message: "must be text without control characters"}
	}
	return q, nil
}

// Page is one page of a list: by number, or after a keyset cursor.
type Page struct {
	Number int
	Size   int
	After  *Cursor
}

// Bounds on lists, so that no request reads or counts a large part of the
// table.
const (
	// MaxOffset bounds paging by number: a page must end within the first
	// MaxOffset tickets of its list (page × size ≤ MaxOffset). Deeper
	// pages are read by cursor, which costs the same at any depth, where an
	// offset costs reading every ticket before it.
	MaxOffset = 10_000
	// CountLimit bounds the count of a list: the total is exact up to it;
	// past it the store answers CountLimit+1 and a page says total =
	// CountLimit and that it is a lower bound (total_capped).
	CountLimit = 10_000
)

// CheckDepth refuses a page by number that ends past MaxOffset.
func (p Page) CheckDepth() *fault.FieldError {
	if p.After != nil || int64(p.Number)*int64(p.Size) <= MaxOffset {
		return nil
	}
	return &fault.FieldError{Field: "page", Message: fmt.Sprintf(
		"must be between 1 and %d for size %d (page × size at most %d); follow next_cursor to read further",
		max(1, MaxOffset/p.Size), p.Size, MaxOffset)}
}

// Cursor is the position after the last ticket of a page, in the list's
// order: newest first, or, in a search, by relevance (Rank) and then
// newest first.
type Cursor struct {
	Rank      *float32
	CreatedAt time.Time
	ID        int64
}

// String encodes the cursor for a client.
func (c Cursor) String() string {
	s := strconv.FormatInt(c.CreatedAt.UnixMicro(), 10) + "." + strconv.FormatInt(c.ID, 10)
	if c.Rank != nil {
		s = "r" + strconv.FormatFloat(float64(*c.Rank), 'g', -1, 32) + ":" + s
	}
	return base64.RawURLEncoding.EncodeToString([]byte(s))
}

// Cursor times are ticket creation times, within years 1 to 9999. Far
// outside them the store cannot compare with a time: PostgreSQL fails the
// query (a 500 for a forged cursor), or the driver's conversion wraps.
var (
	minCursorMicros = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
	maxCursorMicros = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro() - 1
)

// ParseCursor decodes a cursor from String.
func ParseCursor(s string) (Cursor, error) {
	bad := fault.Fields(fault.FieldError{Field: "cursor", Message: "is not a cursor returned by this list"})
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, bad
	}
	raw := string(b)
	var rank *float32
	if rest, ok := strings.CutPrefix(raw, "r"); ok {
		r, after, ok := strings.Cut(rest, ":")
		f, err := strconv.ParseFloat(r, 32)
		if !ok || err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			return Cursor{}, bad
		}
		r32 := float32(f)
		rank, raw = &r32, after
	}
	ts, id, ok := strings.Cut(raw, ".")
	if !ok {
		return Cursor{}, bad
	}
	micros, err1 := strconv.ParseInt(ts, 10, 64)
	n, err2 := strconv.ParseInt(id, 10, 64)
	if err1 != nil || err2 != nil || n <= 0 || micros < minCursorMicros || micros > maxCursorMicros {
		return Cursor{}, bad
	}
	return Cursor{Rank: rank, CreatedAt: time.UnixMicro(micros).UTC(), ID: n}, nil
}

// ParseTimeBound reads a date_from or date_to value: RFC 3339 or a date.
// A date-only upper bound includes the whole day.
func ParseTimeBound(field, raw string, upper bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, raw); err == nil {
		if upper {
			return t.Add(time.Microsecond), nil // an exact upper bound is inclusive
		}
		return t, nil
	}
	d, err := time.Parse(time.DateOnly, raw)
	if err != nil {
		return time.Time{}, fault.Fields(fault.FieldError{Field: field, Message: fmt.Sprintf("must be a date (YYYY-MM-DD) or an RFC 3339 time, not %q", raw)})
	}
	if upper {
		return d.AddDate(0, 0, 1), nil
	}
	return d, nil
}
