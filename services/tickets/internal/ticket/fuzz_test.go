package ticket

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// PostgreSQL's timestamptz runs from 4713 BC to 294276 AD: the store
// compares created_at with list bounds and cursors, and a time outside that
// range fails the query ("timestamp out of range"), a 500 instead of a 422.
var (
	storableFrom  = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	storableUntil = time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC)
)

func storable(t time.Time) bool { return !t.Before(storableFrom) && t.Before(storableUntil) }

// fieldFault reports whether err is a validation fault whose fields are
// all among names.
func fieldFault(err error, names ...string) bool {
	fe, ok := errors.AsType[*fault.Error](err)
	if !ok || fe.Kind != fault.Validation || len(fe.Fields) == 0 {
		return false
	}
	for _, f := range fe.Fields {
		if !slices.Contains(names, f.Field) {
			return false
		}
	}
	return true
}

// FuzzParseCursor checks that ParseCursor never panics, refuses with a
// validation fault on "cursor", and that a cursor it reads names a ticket
// (id > 0) at a time the store can compare with, and reads back the same
// from its String.
func FuzzParseCursor(f *testing.F) {
	for _, c := range []Cursor{
		{CreatedAt: time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC), ID: 17},
		{CreatedAt: time.Unix(0, 0).UTC(), ID: 1},
		{CreatedAt: time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), ID: 1<<63 - 1},
		{Rank: new(float32(0.0607927)), CreatedAt: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), ID: 17},
	} {
		f.Add(c.String())
	}
	for _, raw := range []string{
		"1773500966535897.17", "0.1", "-1.1", "1.0", "1.-1", "1", ".", "1.2.3", "+1.+1", " 1.1",
		"-9223372036854775808.1", "9223372036854775807.1", "-9000000000000000000.1", "99999999999999999999.1",
		"1.9223372036854775808", "١.١",
		"r0.5:1.1", "rNaN:1.1", "r+Inf:1.1", "r1e39:1.1", "r:1.1", "r0.5", "r0.5.1.1", "r-0:1.1",
	} {
		f.Add(b64(raw))
	}
	f.Add("")
	f.Add("!!!")
	f.Add("MTcuMTc=")   // padded
	f.Add("MTcuMTc")    // "17.17"
	f.Add("MTcuMT\ncK") // newline inside
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCursor(s)
		if err != nil {
			if !fieldFault(err, "cursor") {
				t.Fatalf("ParseCursor(%q) = %v, want a validation fault on cursor", s, err)
			}
			return
		}
		if c.ID <= 0 || c.CreatedAt.Location() != time.UTC {
			t.Fatalf("ParseCursor(%q) = %v, %d, want a UTC time and a positive id", s, c.CreatedAt, c.ID)
		}
		if !storable(c.CreatedAt) {
			t.Fatalf("ParseCursor(%q) = %v, %d, a time PostgreSQL cannot compare with", s, c.CreatedAt, c.ID)
		}
		again, err := ParseCursor(c.String())
		sameRank := (again.Rank == nil) == (c.Rank == nil) && (c.Rank == nil || *again.Rank == *c.Rank)
		if err != nil || again.CreatedAt != c.CreatedAt || again.ID != c.ID || !sameRank {
			t.Fatalf("ParseCursor(%q) = %v, %d, but ParseCursor(%q) = %v, %d, %v", s, c.CreatedAt, c.ID, c.String(), again.CreatedAt, again.ID, err)
		}
	})
}

// b64 encodes a cursor's text as Cursor.String does.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// FuzzParseTimeBound checks that ParseTimeBound never panics, refuses with
// a validation fault on the field it was given, and that a bound it reads
// is a time the store can compare with; that a value read as a lower bound
// reads as an upper one too, later (by a microsecond for an exact time, by
// a day for a date); and that a date is a UTC midnight.
func FuzzParseTimeBound(f *testing.F) {
	for _, s := range []string{
		"2026-03-14", "2026-03-14T15:09:26Z", "2026-03-14T15:09:26.123456789+05:30", "0000-01-01",
		"9999-12-31", "9999-12-31T23:59:59-23:59", "0000-01-01T00:00:00+23:59", "2026-02-30", "2026-13-01",
		"2026-3-14", "20260314", "2026-03-14T25:00:00Z", "2026-03-14T15:09:60Z", "2026-03-14 15:09:26Z",
		"2026-03-14T15:09:26", "-001-01-01", "+2026-03-14", "", " 2026-03-14", "2026-03-14\x00", "２０２６-03-14",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		lower, errLower := ParseTimeBound("date_from", raw, false)
		upper, errUpper := ParseTimeBound("date_to", raw, true)
		if (errLower == nil) != (errUpper == nil) {
			t.Fatalf("ParseTimeBound(%q) reads as one bound but not the other: %v, %v", raw, errLower, errUpper)
		}
		if errLower != nil {
			if !fieldFault(errLower, "date_from") || !fieldFault(errUpper, "date_to") {
				t.Fatalf("ParseTimeBound(%q) = %v, %v, want validation faults on the field", raw, errLower, errUpper)
			}
			return
		}
		if !storable(lower) || !storable(upper) {
			t.Fatalf("ParseTimeBound(%q) = %v, %v, times PostgreSQL cannot compare with", raw, lower, upper)
		}
		if _, err := time.Parse(time.DateOnly, raw); err == nil {
			if lower.Location() != time.UTC || !lower.Equal(lower.Truncate(24*time.Hour)) || upper.Sub(lower) != 24*time.Hour {
				t.Fatalf("ParseTimeBound(%q) = %v, %v, want a UTC midnight and the next one", raw, lower, upper)
			}
			return
		}
		if upper.Sub(lower) != time.Microsecond {
			t.Fatalf("ParseTimeBound(%q) = %v, %v, want bounds a microsecond apart", raw, lower, upper)
		}
	})
}

// FuzzStatusAndPriority checks the two parsers of names: Status.Valid
// accepts exactly the four statuses and checkPriority exactly the four
// priorities, returning the one named or a validation fault on priority.
func FuzzStatusAndPriority(f *testing.F) {
	for _, s := range []string{"new", "in_progress", "completed", "closed", "low", "normal", "high", "urgent", "", "NEW", " new", "new\x00", "Urgent", "inprogress"} {
		f.Add(s)
	}
	statuses := []Status{StatusNew, StatusInProgress, StatusCompleted, StatusClosed}
	priorities := []Priority{PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := Status(s).Valid(), slices.Contains(statuses, Status(s)); got != want {
			t.Fatalf("Status(%q).Valid() = %v, want %v", s, got, want)
		}
		p, fe := checkPriority(s)
		switch {
		case slices.Contains(priorities, Priority(s)) && (fe != nil || p != Priority(s)):
			t.Fatalf("checkPriority(%q) = %q, %v, want the priority", s, p, fe)
		case !slices.Contains(priorities, Priority(s)) && (fe == nil || fe.Field != "priority"):
			t.Fatalf("checkPriority(%q) = %q, %v, want an error on priority", s, p, fe)
		}
	})
}

// optional is v when set, else nil: a member given or left out.
func optional(set bool, v string) *string {
	if !set {
		return nil
	}
	return &v
}

// checkTicket checks the invariants of a ticket's fields that validation
// guarantees.
func checkTicket(t *testing.T, tk Ticket) {
	t.Helper()
	if tk.Text == "" || tk.Text != strings.TrimSpace(tk.Text) || utf8.RuneCountInString(tk.Text) > MaxTextLen {
		t.Fatalf("text %q: not trimmed, empty or too long", tk.Text)
	}
	for _, f := range []struct {
		v   *string
		max int
	}{{tk.Title, MaxTitleLen}, {tk.Category, MaxCategoryLen}} {
		if f.v != nil && (*f.v == "" || *f.v != strings.TrimSpace(*f.v) || utf8.RuneCountInString(*f.v) > f.max) {
			t.Fatalf("%q: not trimmed, empty or too long", *f.v)
		}
	}
	if _, fe := checkPriority(string(tk.Priority)); fe != nil {
		t.Fatalf("priority %q is not one", tk.Priority)
	}
}

// FuzzDraft checks that validating a new ticket never panics, fails only
// with a validation fault naming its fields, and yields a new ticket whose
// fields are trimmed and within their limits, with the priority given or
// normal.
func FuzzDraft(f *testing.F) {
	f.Add("The printer is on fire", "Printer", "high", "hardware", uint8(0b1111))
	f.Add("  text  ", "", "", "", uint8(0b0001))
	f.Add("", "t", "low", "c", uint8(0b1111))
	f.Add(" \t\n", "t", "low", "c", uint8(0b1111))
	f.Add("x", "t", "LOW", "c", uint8(0b1111))
	f.Add("x", strings.Repeat("é", MaxTitleLen+1), "urgent", strings.Repeat("c", MaxCategoryLen+1), uint8(0b1111))
	f.Add(strings.Repeat("a", MaxTextLen)+" ", "  ", "normal", "\u00a0", uint8(0b1111))
	f.Add(strings.Repeat("😀", MaxTextLen+1), "", "", "", uint8(0b0001))
	f.Add("x\x00y", "\xff", "low\x00", "", uint8(0b1111))
	f.Add("no text", "", "", "", uint8(0b0000))
	f.Fuzz(func(t *testing.T, text, title, priority, category string, set uint8) {
		d := Draft{
			Text:     optional(set&1 != 0, text),
			Title:    optional(set&2 != 0, title),
			Priority: optional(set&4 != 0, priority),
			Category: optional(set&8 != 0, category),
		}
		tk, err := d.validate()
		if err != nil {
			if !fieldFault(err, "text", "title", "priority", "category") {
				t.Fatalf("validate(%+v) = %v, want a validation fault on its fields", d, err)
			}
			return
		}
		checkTicket(t, tk)
		if tk.Status != StatusNew || (d.Priority == nil && tk.Priority != PriorityNormal) {
			t.Fatalf("validate(%+v) = %+v, want a new ticket, normal by default", d, tk)
		}
		if tk.Text != strings.TrimSpace(text) {
			t.Fatalf("validate(%+v): text %q, want %q", d, tk.Text, strings.TrimSpace(text))
		}
	})
}

// FuzzPatch checks that applying an owner's partial update never panics,
// writes nothing when it fails (with a validation fault naming its fields),
// and otherwise changes only the fields given, within their limits.
func FuzzPatch(f *testing.F) {
	f.Add("new text", "new title", "urgent", "", uint8(0b1111), uint8(0b0000))
	f.Add("", "", "", "", uint8(0b1111), uint8(0b0000))
	f.Add("x", "", "", "", uint8(0b0001), uint8(0b1110))
	f.Add("x", "t", "p", "c", uint8(0b1111), uint8(0b0001))
	f.Add(strings.Repeat("a", MaxTextLen+1), "t", "low", "c", uint8(0b1111), uint8(0b0000))
	f.Add("x", "t", "low", "c", uint8(0b0000), uint8(0b0000))
	f.Fuzz(func(t *testing.T, text, title, priority, category string, set, null uint8) {
		field := func(bit uint8, v string) Field {
			if set&bit == 0 {
				return Field{}
			}
			if null&bit != 0 {
				return Field{Set: true}
			}
			return Field{Set: true, Value: &v}
		}
		p := Patch{Text: field(1, text), Title: field(2, title), Priority: field(4, priority), Category: field(8, category)}
		oldTitle, oldCategory := "old title", "old category"
		before := Ticket{ID: 1, Text: "old text", Title: &oldTitle, Category: &oldCategory, Priority: PriorityLow, Status: StatusNew, Version: 3}
		tk := before
		if err := p.apply(&tk); err != nil {
			if !fieldFault(err, "text", "title", "priority", "category") {
				t.Fatalf("apply(%+v) = %v, want a validation fault on its fields", p, err)
			}
			if !equalTickets(tk, before) {
				t.Fatalf("apply(%+v) failed but wrote %+v", p, tk)
			}
			return
		}
		checkTicket(t, tk)
		if (!p.Text.Set && tk.Text != before.Text) || (!p.Priority.Set && tk.Priority != before.Priority) ||
			(!p.Title.Set && tk.Title != before.Title) || (!p.Category.Set && tk.Category != before.Category) {
			t.Fatalf("apply(%+v) changed a field it was not given: %+v", p, tk)
		}
		if (p.Title.Set && p.Title.Value == nil && tk.Title != nil) || (p.Priority.Set && p.Priority.Value == nil && tk.Priority != PriorityNormal) {
			t.Fatalf("apply(%+v) = %+v, want null to clear the title and reset the priority", p, tk)
		}
		if tk.ID != before.ID || tk.Status != before.Status || tk.Version != before.Version {
			t.Fatalf("apply(%+v) changed what an owner cannot: %+v", p, tk)
		}
	})
}

// equalTickets compares the fields a patch may touch, by value.
func equalTickets(a, b Ticket) bool {
	same := func(x, y *string) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.Text == b.Text && a.Priority == b.Priority && same(a.Title, b.Title) && same(a.Category, b.Category)
}
