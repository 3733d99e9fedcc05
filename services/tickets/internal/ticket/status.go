package ticket

import (
	"fmt"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Valid reports whether s is one of the four statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusNew, StatusInProgress, StatusCompleted, StatusClosed:
		return true
	}
	return false
}

// transitions is the state machine: from each status, where it may go.
var transitions = map[Status][]Status{
	StatusNew:        {StatusInProgress, StatusClosed},
	StatusInProgress: {StatusCompleted, StatusClosed, StatusNew},
	StatusCompleted:  {StatusClosed, StatusInProgress},
	StatusClosed:     {}, // final, but for an admin reopening it
}

// CanTransition reports whether role may move a ticket from one status to
// another: the state machine, plus an admin's reopening of a closed ticket.
func CanTransition(from, to Status, role access.Role) bool {
	if from == StatusClosed && to == StatusInProgress {
		return role == access.RoleAdmin
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

func errTransition(from, to Status) error {
	return fault.Newf(fault.Conflict, "illegal_transition", "Cannot change status from %s to %s", from, to)
}

// checkVersion implements If-Match: a stale version is a failed precondition.
func checkVersion(t Ticket, want *int) error {
	if want != nil && *want != t.Version {
		return fault.New(fault.Precondition, "stale_version",
			fmt.Sprintf("The request was changed meanwhile (version %d, not %d); fetch it again", t.Version, *want))
	}
	return nil
}
