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
		after.Version++
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

// TicketRef says that a ticket belongs to a user, or belonged until it was
// deleted.
type TicketRef struct {
	TicketID, OwnerID int64
	Deleted           bool
}

// Apply records a ticket's creation or deletion; other events are ignored.
// It is idempotent, and the order in which a ticket's events arrive does
// not matter. A payload it cannot read is an Invalid fault.
func (o *TicketOwners) Apply(ctx context.Context, ev events.Event) error {
	return o.ApplyBatch(ctx, []events.Event{ev})[0]
}

// ApplyBatch is Apply for a batch of events with one write for the batch;
// it returns each event's outcome. A store failure is every applicable
// event's outcome (the batch is retried); an unreadable event fails alone.
func (o *TicketOwners) ApplyBatch(ctx context.Context, evs []events.Event) []error {
	errs := make([]error, len(evs))
	var refs []TicketRef
	var applied []int // the events the write is for
	for i, ev := range evs {
		ref, err := ticketRef(ev)
		switch {
		case err != nil:
			errs[i] = err
		case ref != nil:
			refs = append(refs, *ref)
			applied = append(applied, i)
		}
	}
	if len(applied) == 0 {
		return errs
	}
	if err := o.store.ApplyTicketRefs(ctx, refs); err != nil {
		for _, i := range applied {
			errs[i] = err
		}
	}
	return errs
}

// ticketRef reads what a ticket event means for ticket ownership: a ref,
// or nothing.
func ticketRef(ev events.Event) (*TicketRef, error) {
	switch ev.Type {
	case events.TypeTicketCreated, events.TypeTicketDeleted:
	default:
		return nil, nil
	}
	var data struct {
		Before *events.Ticket `json:"before"`
		After  *events.Ticket `json:"after"`
	}
	if err := ev.DecodeData(&data); err != nil {
		return nil, &fault.Error{Kind: fault.Invalid, Code: "invalid_event", Detail: "undecodable ticket event", Err: err}
	}
	t, deleted := data.After, ev.Type == events.TypeTicketDeleted
	if deleted {
		t = data.Before
	}
	if t == nil || t.ID <= 0 || t.OwnerID <= 0 {
		return nil, fault.Newf(fault.Invalid, "invalid_event", "ticket event %s has no ticket", ev.ID)
	}
	return &TicketRef{TicketID: t.ID, OwnerID: t.OwnerID, Deleted: deleted}, nil
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
		after.Version++ // as the store counts the change
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
