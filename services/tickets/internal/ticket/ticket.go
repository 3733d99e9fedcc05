// Package ticket holds the rules of support requests ("tickets"): what a
// ticket is, who may create and see one, and how tickets render their owner
// and staff member from the local user directory. It knows neither HTTP nor
// SQL.
package ticket

import (
	"context"
	"fmt"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/ids"
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
	// FirstResponseAt is when the ticket first left "new" or staff first
	// commented on it; ResolvedAt when it last became completed or closed.
	FirstResponseAt *time.Time
	ResolvedAt      *time.Time
	// The SLA clocks (see Policy): due times and states.
	FirstResponseDueAt *time.Time
	ResolutionDueAt    *time.Time
	FirstResponseSLA   Clock
	ResolutionSLA      Clock
}

// DisplayID is "REQ" and the id padded to six digits.
func DisplayID(id int64) string { return ids.Display(ids.Request, id) }

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
	INN        *string
	Phone      *string
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

// seesAll reports whether the actor may see every ticket (staff, admin).
func (a Actor) seesAll() bool { return access.Has(a.Role, access.ViewRequests) }

// Idempotency identifies a request that a client may retry: the same key
// from the same actor for the same kind of request (Scope) must give the
// first result, and the same key with another body (Hash) is an error.
type Idempotency struct {
	ActorID int64
	Scope   string
	Key     string
	Hash    []byte
}

// Store keeps tickets, comments and the user directory. Methods that change
// state take a function returning the events that describe the change, and
// commit both in one transaction.
type Store interface {
	// Create inserts t with the events that events(created) returns, and
	// returns it with its people. With an idempotency key already used for
	// the same request, it inserts nothing and returns the first request's
	// ticket as it is now.
	Create(ctx context.Context, t Ticket, idem *Idempotency, events func(Ticket) ([]events.Event, error)) (View, error)
	// Get returns the ticket with its people, or a NotFound fault.
	Get(ctx context.Context, id int64) (View, error)
	// Update locks the ticket and lets change modify it, then saves it with
	// the events change returns.
	Update(ctx context.Context, id int64, change func(*Ticket) ([]events.Event, error)) (Ticket, error)
	// Delete locks the ticket, asks check for the events of its deletion (or
	// an error to keep it), then deletes it with its comments.
	Delete(ctx context.Context, id int64, check func(Ticket) ([]events.Event, error)) error
	// List returns the tickets matching f, newest first, one page of them,
	// the total (-1 on a page reached by cursor, which is not counted;
	// CountLimit+1 when there are more than CountLimit), and the cursor of
	// the next page (nil on the last).
	List(ctx context.Context, f Filter, p Page) ([]View, int64, *Cursor, error)

	// BreachDue marks as breached at most limit pending clocks of kind
	// whose due time has passed, skipping tickets that other transactions
	// hold, and stores with them the events that events(t) returns for
	// each ticket t (as marked), all in one transaction. It returns how
	// many it marked.
	BreachDue(ctx context.Context, kind ClockKind, limit int, events func(Ticket) ([]events.Event, error)) (int, error)

	// AddComment inserts c with the events that events(saved) returns and,
	// when firstResponse is set, marks the ticket's first response if unset,
	// all in one transaction; with the same idempotency rule as Create.
	AddComment(ctx context.Context, c Comment, firstResponse bool, idem *Idempotency, events func(Comment) ([]events.Event, error)) (Comment, error)
	// Comments returns the thread of a ticket, oldest first, internal notes
	// only when internal is set.
	Comments(ctx context.Context, ticketID int64, internal bool) ([]CommentView, error)

	// User returns a directory entry, or a NotFound fault.
	User(ctx context.Context, id int64) (User, error)
	// PutUser inserts a directory entry, or replaces it unless the entry
	// is of a later version than version (auth's count of the user's
	// changes); an entry of the same version is replaced by the same data.
	PutUser(ctx context.Context, u User, version int64) error
	// UnassignStaff takes the staff member's open tickets (new, in
	// progress) from them, moving in-progress ones back to new, with the
	// events that events(before, after) returns for each.
	UnassignStaff(ctx context.Context, staffID int64, events func(before, after Ticket) ([]events.Event, error)) error
}

// ErrNotFound answers a ticket that does not exist or that the caller may
// not know of.
var ErrNotFound = fault.New(fault.NotFound, "request_not_found", "Request not found")

// ErrIdempotencyMismatch answers a reused idempotency key with another body.
var ErrIdempotencyMismatch = fault.Fields(fault.FieldError{Field: "Idempotency-Key",
	Message: "was already used with a different request body"})
