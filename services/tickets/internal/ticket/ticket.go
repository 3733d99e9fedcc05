// Package ticket holds the rules of support requests ("tickets"): what a
// ticket is, who may create and see one, and how tickets render their owner
// and staff member from the local user directory. It knows neither HTTP nor
// SQL.
package ticket

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Status is where a ticket is in its life.
type Status string

// The statuses.
const (
	StatusNew        Status = "new"
	StatusInProgress Status = "in_progress"
	StatusCompleted  Status = "completed"
	StatusClosed     Status = "closed"
)

// Priority orders tickets by urgency.
type Priority string

// The priorities; PriorityNormal is the default.
const (
	PriorityLow    Priority = "low"
	PriorityNormal Priority = "normal"
	PriorityHigh   Priority = "high"
	PriorityUrgent Priority = "urgent"
)

// Limits of a ticket's fields.
const (
	MaxTextLen     = 5000
	MaxTitleLen    = 200
	MaxCategoryLen = 100
)

// Ticket is a support request.
type Ticket struct {
	ID           int64
	OwnerID      int64
	StaffID      *int64
	Title        *string
	Text         string
	Status       Status
	Priority     Priority
	Category     *string
	StaffComment *string
	Version      int
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// DisplayID is "REQ" and the id padded to six digits.
func DisplayID(id int64) string { return fmt.Sprintf("REQ%06d", id) }

// DisplayID is the human-readable id of t.
func (t Ticket) DisplayID() string { return DisplayID(t.ID) }

// Snapshot is t as ticket events carry it.
func (t Ticket) Snapshot() events.Ticket {
	return events.Ticket{
		ID: t.ID, DisplayID: t.DisplayID(), OwnerID: t.OwnerID, StaffID: t.StaffID, Title: t.Title, Text: t.Text,
		Status: string(t.Status), Priority: string(t.Priority), Category: t.Category, StaffComment: t.StaffComment,
		Version: t.Version, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
}

// User is an entry of the user directory, the tickets service's copy of the
// users that auth announces in its events.
type User struct {
	ID         int64
	Email      string
	Role       access.Role
	FirstName  *string
	LastName   *string
	FatherName *string
	Active     bool
}

// View is a ticket with its owner and staff member resolved from the
// directory. Owner holds only the id when the directory has not heard of
// the user yet.
type View struct {
	Ticket
	Owner User
	Staff *User
}

// Actor is the authenticated caller.
type Actor struct {
	ID   int64
	Role access.Role
}

func (a Actor) event() events.Actor {
	return events.Actor{ID: fmt.Sprint(a.ID), Role: string(a.Role)}
}

// Store keeps tickets and the user directory.
type Store interface {
	// Create inserts t with the events that events(created) returns, in one
	// transaction.
	Create(ctx context.Context, t Ticket, events func(Ticket) ([]events.Event, error)) (Ticket, error)
	// Get returns the ticket with its people, or a NotFound fault.
	Get(ctx context.Context, id int64) (View, error)
	// PutUser inserts or replaces a directory entry.
	PutUser(ctx context.Context, u User) error
}

// ErrNotFound answers a ticket that does not exist or that the caller may
// not know of.
var ErrNotFound = fault.New(fault.NotFound, "request_not_found", "Request not found")

// Draft is what a caller submits to open a ticket.
type Draft struct {
	Text     *string
	Title    *string
	Priority *string
	Category *string
}

func (d Draft) validate() (Ticket, error) {
	var fields []fault.FieldError
	t := Ticket{Status: StatusNew, Priority: PriorityNormal}
	switch {
	case d.Text == nil:
		fields = append(fields, fault.FieldError{Field: "text", Message: "is required"})
	case strings.TrimSpace(*d.Text) == "":
		fields = append(fields, fault.FieldError{Field: "text", Message: "must not be empty"})
	case utf8.RuneCountInString(strings.TrimSpace(*d.Text)) > MaxTextLen:
		fields = append(fields, fault.FieldError{Field: "text", Message: fmt.Sprintf("must be at most %d characters", MaxTextLen)})
	default:
		t.Text = strings.TrimSpace(*d.Text)
	}
	if d.Title != nil {
		title := strings.TrimSpace(*d.Title)
		if utf8.RuneCountInString(title) > MaxTitleLen {
			fields = append(fields, fault.FieldError{Field: "title", Message: fmt.Sprintf("must be at most %d characters", MaxTitleLen)})
		}
		if title != "" {
			t.Title = &title
		}
	}
	if d.Priority != nil {
		switch p := Priority(*d.Priority); p {
		case PriorityLow, PriorityNormal, PriorityHigh, PriorityUrgent:
			t.Priority = p
		default:
			fields = append(fields, fault.FieldError{Field: "priority", Message: "must be one of low, normal, high, urgent"})
		}
	}
	if d.Category != nil {
		c := strings.TrimSpace(*d.Category)
		if utf8.RuneCountInString(c) > MaxCategoryLen {
			fields = append(fields, fault.FieldError{Field: "category", Message: fmt.Sprintf("must be at most %d characters", MaxCategoryLen)})
		}
		if c != "" {
			t.Category = &c
		}
	}
	if len(fields) > 0 {
		return Ticket{}, fault.Fields(fields...)
	}
	return t, nil
}
