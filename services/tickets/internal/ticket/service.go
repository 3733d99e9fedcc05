package ticket

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Service carries out ticket operations for an authenticated actor. It
// checks permissions (again, after the gateway) and owns the object-level
// rules: who may see or change which ticket.
type Service struct {
	store  Store
	policy Policy
}

// NewService returns a Service over store that runs the SLA clocks of
// policy.
func NewService(store Store, policy Policy) *Service { return &Service{store: store, policy: policy} }

// update changes a ticket through the store and settles its SLA clocks: a
// new priority restarts them with its targets.
func (s *Service) update(ctx context.Context, id int64, change func(*Ticket) ([]events.Event, error)) error {
	_, err := s.store.Update(ctx, id, func(t *Ticket) ([]events.Event, error) {
		priority := t.Priority
		evs, err := change(t)
		if err != nil {
			return nil, err
		}
		if t.Priority != priority {
			s.policy.startClocks(t)
		} else {
			settleClocks(t)
		}
		return evs, nil
	})
	return err
}

func require(a Actor, p access.Permission) error { return access.Check(a.Role, p) }

// changed builds a ticket event with the ticket before and after a change.
func changed(ctx context.Context, typ string, a Actor, before, after *Ticket) (events.Event, error) {
	data := events.TicketChanged{}
	subject := ""
	if before != nil {
		s := before.Snapshot()
		data.Before, subject = &s, before.DisplayID()
	}
	if after != nil {
		s := after.Snapshot()
		data.After, subject = &s, after.DisplayID()
	}
	return events.New(ctx, events.SourceTickets, typ, subject, a.event(), data)
}

// Create opens a ticket owned by the actor and announces it with
// support.ticket.created. With an idempotency key, a retry of the same
// request returns the first ticket and announces nothing.
func (s *Service) Create(ctx context.Context, a Actor, d Draft, idem *Idempotency) (View, error) {
	if err := require(a, access.CreateRequest); err != nil {
		return View{}, err
	}
	t, err := d.validate()
	if err != nil {
		return View{}, err
	}
	t.OwnerID = a.ID
	t.CreatedAt = time.Now().UTC()
	t.UpdatedAt = t.CreatedAt
	s.policy.startClocks(&t)
	v, err := s.store.Create(ctx, t, idem, func(c Ticket) ([]events.Event, error) {
		ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCreated, c.DisplayID(), a.event(),
			events.TicketCreated{After: c.Snapshot()})
		return []events.Event{ev}, err
	})
	if err != nil {
		return View{}, fmt.Errorf("create ticket: %w", err)
	}
	return v, nil
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
	if !a.seesAll() && v.OwnerID != a.ID {
		return View{}, ErrNotFound
	}
	return v, nil
}

// ownerOnly is the rule of the owner's own changes: someone else's ticket is
// not found for a user, and forbidden for staff and admins who can see it.
func ownerOnly(a Actor, t Ticket) error {
	if t.OwnerID == a.ID {
		return nil
	}
	if a.seesAll() {
		return fault.New(fault.Forbidden, "not_owner", "Only the owner of a request can change or delete it")
	}
	return ErrNotFound
}

// Update changes the owner's ticket while it is new.
func (s *Service) Update(ctx context.Context, a Actor, id int64, p Patch, ifMatch *int) (View, error) {
	if err := require(a, access.UpdateOwnRequests); err != nil {
		return View{}, err
	}
	err := s.update(ctx, id, func(t *Ticket) ([]events.Event, error) {
		if err := ownerOnly(a, *t); err != nil {
			return nil, err
		}
		if err := checkVersion(*t, ifMatch); err != nil {
			return nil, err
		}
		if t.Status != StatusNew {
			return nil, fault.New(fault.Invalid, "request_in_process", "Cannot update request that is being processed")
		}
		before := *t
		if err := p.apply(t); err != nil {
			return nil, err
		}
		t.Version++
		t.UpdatedAt = time.Now().UTC()
		ev, err := changed(ctx, events.TypeTicketUpdated, a, &before, t)
		return []events.Event{ev}, err
	})
	if err != nil {
		return View{}, err
	}
	return s.store.Get(ctx, id)
}

// Delete removes the owner's ticket unless it is in progress.
func (s *Service) Delete(ctx context.Context, a Actor, id int64) error {
	if err := require(a, access.DeleteOwnRequests); err != nil {
		return err
	}
	return s.store.Delete(ctx, id, func(t Ticket) ([]events.Event, error) {
		if err := ownerOnly(a, t); err != nil {
			return nil, err
		}
		if t.Status == StatusInProgress {
			return nil, fault.New(fault.Invalid, "request_in_progress", "Cannot delete request in progress")
		}
		ev, err := changed(ctx, events.TypeTicketDeleted, a, &t, nil)
		return []events.Event{ev}, err
	})
}

// StatusChange is a staff member's or admin's move of a ticket.
type StatusChange struct {
	Status       Status
	StaffComment *string // nil keeps the current comment
}

// ChangeStatus moves a ticket along the state machine. Staff act on tickets
// assigned to them, or claim an unassigned one by acting on it; admins act on
// any ticket without becoming its assignee. Going back to new unassigns.
func (s *Service) ChangeStatus(ctx context.Context, a Actor, id int64, c StatusChange, ifMatch *int) (View, error) {
	if err := require(a, access.UpdateRequestStatus); err != nil {
		return View{}, err
	}
	if !c.Status.Valid() {
		return View{}, fault.Fields(fault.FieldError{Field: "status", Message: "must be one of new, in_progress, completed, closed"})
	}
	err := s.update(ctx, id, func(t *Ticket) ([]events.Event, error) {
		if a.Role == access.RoleStaff && t.StaffID != nil && *t.StaffID != a.ID {
			return nil, fault.New(fault.Forbidden, "not_assignee", "This request is assigned to another staff member")
		}
		if err := checkVersion(*t, ifMatch); err != nil {
			return nil, err
		}
		if !CanTransition(t.Status, c.Status, a.Role) {
			return nil, errTransition(t.Status, c.Status)
		}
		before := *t
		t.Status = c.Status
		if c.StaffComment != nil {
			t.StaffComment = c.StaffComment
		}
		claimed := a.Role == access.RoleStaff && t.StaffID == nil && c.Status != StatusNew
		switch {
		case c.Status == StatusNew:
			t.StaffID = nil
		case claimed:
			t.StaffID = &a.ID
		}
		now := time.Now().UTC()
		t.UpdatedAt = now
		if before.Status == StatusNew && t.FirstResponseAt == nil {
			t.FirstResponseAt = &now
		}
		if t.resolved() && !before.resolved() {
			t.ResolvedAt = &now
		}
		t.Version++
		evs := []events.Event{}
		ev, err := changed(ctx, events.TypeTicketStatusChanged, a, &before, t)
		if err != nil {
			return nil, err
		}
		evs = append(evs, ev)
		if claimed || (before.StaffID != nil && t.StaffID == nil) {
			typ := events.TypeTicketAssigned
			if t.StaffID == nil {
				typ = events.TypeTicketUnassigned
			}
			if ev, err = changed(ctx, typ, a, &before, t); err != nil {
				return nil, err
			}
			evs = append(evs, ev)
		}
		return evs, nil
	})
	if err != nil {
		return View{}, err
	}
	return s.store.Get(ctx, id)
}

// ErrStaffNotFound answers an assignment to someone who is not active staff.
var ErrStaffNotFound = fault.New(fault.NotFound, "staff_not_found", "Staff member not found")

// Assign gives a ticket to an active staff member; a new ticket moves to in
// progress.
func (s *Service) Assign(ctx context.Context, a Actor, id, staffID int64) (View, error) {
	if err := require(a, access.AssignRequests); err != nil {
		return View{}, err
	}
	staff, err := s.store.User(ctx, staffID)
	if fault.Is(err, fault.NotFound) || (err == nil && (staff.Role != access.RoleStaff || !staff.Active)) {
		return View{}, ErrStaffNotFound
	}
	if err != nil {
		return View{}, err
	}
	err = s.update(ctx, id, func(t *Ticket) ([]events.Event, error) {
		if t.Status == StatusCompleted || t.Status == StatusClosed {
			return nil, fault.Newf(fault.Conflict, "request_finished", "Cannot assign a request that is %s", t.Status)
		}
		before := *t
		t.StaffID = &staffID
		now := time.Now().UTC()
		t.UpdatedAt = now
		if t.Status == StatusNew {
			t.Status = StatusInProgress
			t.FirstResponseAt = &now
		}
		t.Version++
		ev, err := changed(ctx, events.TypeTicketAssigned, a, &before, t)
		return []events.Event{ev}, err
	})
	if err != nil {
		return View{}, err
	}
	return s.store.Get(ctx, id)
}

// ListMine returns the actor's own tickets.
func (s *Service) ListMine(ctx context.Context, a Actor, f Filter, p Page) ([]View, int64, *Cursor, error) {
	if err := require(a, access.ViewOwnRequests); err != nil {
		return nil, 0, nil, err
	}
	if f.SLA != "" {
		return nil, 0, nil, fault.Fields(fault.FieldError{Field: "sla", Message: "is a filter of the staff and admin lists only"})
	}
	f.OwnerID, f.Internal = &a.ID, a.seesAll()
	return s.store.List(ctx, f, p)
}

// ListForStaff is the staff work list: by default a staff member sees the
// tickets assigned to them, unless they filter by staff or owner or ask for
// the unassigned queue; an admin sees every ticket.
func (s *Service) ListForStaff(ctx context.Context, a Actor, f Filter, p Page) ([]View, int64, *Cursor, error) {
	if err := require(a, access.ViewRequests); err != nil {
		return nil, 0, nil, err
	}
	if a.Role == access.RoleStaff && f.StaffID == nil && f.OwnerID == nil && !f.Unassigned {
		f.StaffID = &a.ID
	}
	f.Internal = a.seesAll()
	return s.store.List(ctx, f, p)
}

// ListAll returns every ticket matching f.
func (s *Service) ListAll(ctx context.Context, a Actor, f Filter, p Page) ([]View, int64, *Cursor, error) {
	if err := require(a, access.ViewRequests); err != nil {
		return nil, 0, nil, err
	}
	f.Internal = a.seesAll()
	return s.store.List(ctx, f, p)
}

// breachBatch is how many clocks of a kind one transaction marks breached.
const breachBatch = 200

// systemActor is the actor of what the service does by itself.
var systemActor = events.Actor{ID: "system", Role: "system"}

// BreachDue marks every pending SLA clock whose due time has passed as
// breached, publishing support.ticket.sla_breached.v1 for each through the
// outbox, and returns how many it marked. Replicas running it at once
// share the work: each transaction skips the tickets another holds.
func (s *Service) BreachDue(ctx context.Context) (int, error) {
	total := 0
	for _, kind := range []ClockKind{FirstResponse, Resolution} {
		for {
			n, err := s.store.BreachDue(ctx, kind, breachBatch, func(t Ticket) ([]events.Event, error) {
				due := t.FirstResponseDueAt
				if kind == Resolution {
					due = t.ResolutionDueAt
				}
				ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketSLABreached, t.DisplayID(), systemActor,
					events.TicketSLABreached{Kind: string(kind), DueAt: due.UTC(), Ticket: t.Snapshot()})
				return []events.Event{ev}, err
			})
			total += n
			if err != nil {
				return total, fmt.Errorf("breach %s clocks: %w", kind, err)
			}
			if n < breachBatch {
				break
			}
		}
	}
	return total, nil
}

// RunClocks calls BreachDue every interval until ctx ends. A failure (the
// database away) is logged and tried again at the next tick: the clocks
// stay pending meanwhile, so none is lost.
func (s *Service) RunClocks(ctx context.Context, interval time.Duration, logger *slog.Logger) error {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if _, err := s.BreachDue(ctx); err != nil && ctx.Err() == nil {
			logger.WarnContext(ctx, "SLA clocks", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
