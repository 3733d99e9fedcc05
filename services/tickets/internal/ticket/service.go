package ticket

import (
	"context"
	"fmt"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Service carries out ticket operations for an authenticated actor.
type Service struct {
	store Store
}

// NewService returns a Service over store.
func NewService(store Store) *Service { return &Service{store: store} }

func require(a Actor, p access.Permission) error {
	if !access.Has(a.Role, p) {
		return fault.New(fault.Forbidden, "forbidden", "Not enough permissions: this action needs "+string(p))
	}
	return nil
}

// Create opens a ticket owned by the actor and announces it with
// support.ticket.created.
func (s *Service) Create(ctx context.Context, a Actor, d Draft) (View, error) {
	if err := require(a, access.CreateRequest); err != nil {
		return View{}, err
	}
	t, err := d.validate()
	if err != nil {
		return View{}, err
	}
	t.OwnerID = a.ID
	created, err := s.store.Create(ctx, t, func(c Ticket) ([]events.Event, error) {
		ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCreated, c.DisplayID(), a.event(),
			events.TicketCreated{After: c.Snapshot()})
		return []events.Event{ev}, err
	})
	if err != nil {
		return View{}, fmt.Errorf("create ticket: %w", err)
	}
	return s.store.Get(ctx, created.ID)
}

// Get returns a ticket the actor may see: users see only their own (any
// other answers NotFound, so they cannot learn it exists); staff and admins
// see every ticket.
func (s *Service) Get(ctx context.Context, a Actor, id int64) (View, error) {
	v, err := s.store.Get(ctx, id)
	if fault.Is(err, fault.NotFound) {
		return View{}, ErrNotFound
	}
	if err != nil {
		return View{}, fmt.Errorf("get ticket %d: %w", id, err)
	}
	if !access.Has(a.Role, access.ViewRequests) && v.OwnerID != a.ID {
		return View{}, ErrNotFound
	}
	return v, nil
}

// Directory keeps the user directory from auth's user events.
type Directory struct {
	store Store
}

// NewDirectory returns a Directory over store.
func NewDirectory(store Store) *Directory { return &Directory{store: store} }

// Apply records what a user event says about a user; events it does not
// know are ignored. It is idempotent, as redelivery requires. An event whose
// payload can never be applied fails with an Invalid fault.
func (d *Directory) Apply(ctx context.Context, ev events.Event) error {
	var u events.User
	switch ev.Type {
	case events.TypeUserRegistered:
		var data events.UserRegistered
		if err := ev.DecodeData(&data); err != nil {
			return invalidEvent(err)
		}
		u = data.User
	case events.TypeUserProfileUpdated, events.TypeUserRoleChanged, events.TypeUserDeleted:
		var data events.UserChanged
		if err := ev.DecodeData(&data); err != nil {
			return invalidEvent(err)
		}
		u = data.After
		if ev.Type == events.TypeUserDeleted {
			u.Active = false
		}
	default:
		return nil
	}
	if u.ID <= 0 || !access.Role(u.Role).Valid() {
		return fault.Newf(fault.Invalid, "invalid_event", "user event %s: invalid user %d with role %q", ev.ID, u.ID, u.Role)
	}
	return d.store.PutUser(ctx, User{
		ID: u.ID, Email: u.Email, Role: access.Role(u.Role),
		FirstName: u.FirstName, LastName: u.LastName, FatherName: u.FatherName, Active: u.Active,
	})
}

func invalidEvent(err error) error {
	return &fault.Error{Kind: fault.Invalid, Code: "invalid_event", Detail: "undecodable user event", Err: err}
}
