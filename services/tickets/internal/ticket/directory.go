package ticket

import (
	"context"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Directory keeps the user directory from auth's user events.
type Directory struct {
	store Store
}

// NewDirectory returns a Directory over store.
func NewDirectory(store Store) *Directory { return &Directory{store: store} }

// system is the actor of changes the service makes on its own.
var system = Actor{ID: 0, Role: "system"}

// Apply records what a user event says about a user; events it does not
// know are ignored. It is idempotent, as redelivery requires, and an event
// older than the user's entry (by the user's version) changes nothing, so
// the order in which a user's events arrive does not matter. An event whose
// payload can never be applied fails with an Invalid fault. A deleted staff
// member's open tickets are unassigned, each with its event.
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
	err := d.store.PutUser(ctx, User{
		ID: u.ID, Email: u.Email, Role: access.Role(u.Role), FirstName: u.FirstName, LastName: u.LastName,
		FatherName: u.FatherName, INN: u.INN, Phone: u.Phone, Active: u.Active,
	}, u.Version)
	if err != nil || ev.Type != events.TypeUserDeleted || access.Role(u.Role) != access.RoleStaff {
		return err
	}
	ctx = ev.Context(ctx)
	return d.store.UnassignStaff(ctx, u.ID, func(before, after Ticket) ([]events.Event, error) {
		var evs []events.Event
		if before.Status != after.Status {
			ev, err := changed(ctx, events.TypeTicketStatusChanged, system, &before, &after)
			if err != nil {
				return nil, err
			}
			evs = append(evs, ev)
		}
		ev, err := changed(ctx, events.TypeTicketUnassigned, system, &before, &after)
		return append(evs, ev), err
	})
}

func invalidEvent(err error) error {
	return &fault.Error{Kind: fault.Invalid, Code: "invalid_event", Detail: "undecodable user event", Err: err}
}
