package user

import (
	"context"
	"fmt"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// List returns a page of the users of role, ordered by id.
func (s *Service) List(ctx context.Context, role access.Role, offset, limit int) ([]User, int64, error) {
	users, total, err := s.store.List(ctx, role, offset, limit)
	if err != nil {
		return nil, 0, fmt.Errorf("list %s users: %w", role, err)
	}
	return users, total, nil
}

// notFoundOf is the contract's 404 for a user id that is not of role.
func notFoundOf(role access.Role) error {
	if role == access.RoleStaff {
		return fault.New(fault.NotFound, "staff_not_found", "Staff member not found")
	}
	return ErrNotFound
}

// Delete removes a user of role. A user (role user) who owns tickets is
// kept (409); a staff member's tickets are unassigned by the tickets service
// when it hears of the deletion. Every session of the deleted user dies.
func (s *Service) Delete(ctx context.Context, actor events.Actor, id int64, role access.Role) error {
	err := s.store.Delete(ctx, id, role, func(u User) ([]events.Event, error) {
		after := u.Public()
		after.Active = false
		ev, err := events.New(ctx, events.SourceAuth, events.TypeUserDeleted, u.DisplayID(), actor, events.UserChanged{
			Before: u.Public(), After: after,
			Revoke: &events.Revocation{UserID: u.ID, AllSessions: true},
		})
		return []events.Event{ev}, err
	})
	if fault.Is(err, fault.NotFound) {
		return notFoundOf(role)
	}
	return fault.Wrap(err, "delete user %d", id)
}

// TicketOwners keeps who owns which ticket from the tickets service's events.
type TicketOwners struct {
	store Store
}

// NewTicketOwners returns a TicketOwners over store.
func NewTicketOwners(store Store) *TicketOwners { return &TicketOwners{store: store} }

// Apply records a ticket's creation or deletion; other events are ignored.
// It is idempotent. A payload it cannot read is an Invalid fault.
func (o *TicketOwners) Apply(ctx context.Context, ev events.Event) error {
	switch ev.Type {
	case events.TypeTicketCreated, events.TypeTicketDeleted:
	default:
		return nil
	}
	var data struct {
		Before *events.Ticket `json:"before"`
		After  *events.Ticket `json:"after"`
	}
	if err := ev.DecodeData(&data); err != nil {
		return &fault.Error{Kind: fault.Invalid, Code: "invalid_event", Detail: "undecodable ticket event", Err: err}
	}
	if ev.Type == events.TypeTicketCreated {
		if data.After == nil || data.After.ID <= 0 || data.After.OwnerID <= 0 {
			return fault.Newf(fault.Invalid, "invalid_event", "ticket event %s has no ticket", ev.ID)
		}
		return o.store.PutTicketRef(ctx, data.After.ID, data.After.OwnerID)
	}
	if data.Before == nil || data.Before.ID <= 0 {
		return fault.Newf(fault.Invalid, "invalid_event", "ticket event %s has no ticket", ev.ID)
	}
	return o.store.DropTicketRef(ctx, data.Before.ID)
}

// ChangeRole gives a user another role. Their sessions end: tokens carry
// the role, so the user logs in again to act in the new one. An admin
// cannot change their own role, so that the last admin cannot lock every
// admin out by mistake.
func (s *Service) ChangeRole(ctx context.Context, actor events.Actor, id int64, role access.Role) (User, error) {
	if !role.Valid() {
		return User{}, fault.Fields(fault.FieldError{Field: "role", Message: "must be one of user, staff, admin"})
	}
	if actor.ID == fmt.Sprint(id) {
		return User{}, fault.New(fault.Conflict, "own_role", "You cannot change your own role")
	}
	u, err := s.store.ChangeRole(ctx, id, role, func(before User, revoked []string) ([]events.Event, error) {
		after := before
		after.Role = role
		ev, err := events.New(ctx, events.SourceAuth, events.TypeUserRoleChanged, before.DisplayID(), actor, events.UserChanged{
			Before: before.Public(), After: after.Public(),
			Revoke: &events.Revocation{UserID: id, SessionIDs: revoked},
		})
		return []events.Event{ev}, err
	})
	if fault.Is(err, fault.NotFound) {
		return User{}, notFoundOf(access.RoleUser)
	}
	return u, fault.Wrap(err, "change role of %d", id)
}
