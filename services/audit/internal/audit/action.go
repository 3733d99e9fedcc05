package audit

import (
	"strconv"
	"strings"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// The actions on tickets that the request-actions log reports, named as in
// docs/API.md.
const (
	ActionCreateRequest        = "create_request"
	ActionViewRequest          = "view_request"
	ActionViewMyRequests       = "view_my_requests"
	ActionListAssignedRequests = "list_assigned_requests"
	ActionUpdateRequest        = "update_request"
	ActionDeleteRequest        = "delete_request"
	ActionChangeStatus         = "change_status"
	ActionAssignRequest        = "assign_request"
	ActionAddComment           = "add_comment"
)

var actions = [...]string{
	ActionCreateRequest, ActionViewRequest, ActionViewMyRequests, ActionListAssignedRequests,
	ActionUpdateRequest, ActionDeleteRequest, ActionChangeStatus, ActionAssignRequest, ActionAddComment,
}

// Actions returns every action name a client may filter on, in the order of
// the contract.
func Actions() []string { return append([]string(nil), actions[:]...) }

// actionOfType maps an event type to the ticket action it records. A type
// missing here is stored all the same, without an action: a new event type
// needs no redeploy to be kept, only to be named in this log.
var actionOfType = map[string]string{
	events.TypeTicketCreated:       ActionCreateRequest,
	events.TypeTicketUpdated:       ActionUpdateRequest,
	events.TypeTicketDeleted:       ActionDeleteRequest,
	events.TypeTicketStatusChanged: ActionChangeStatus,
	events.TypeTicketAssigned:      ActionAssignRequest,
	events.TypeTicketUnassigned:    ActionAssignRequest,
	events.TypeTicketCommentAdded:  ActionAddComment,
}

// ActionOf returns the ticket action recorded by an event of type typ, or ""
// when the event is not a ticket action.
func ActionOf(typ string) string { return actionOfType[typ] }

// ValidAction reports whether name is one of Actions.
func ValidAction(name string) bool {
	for _, a := range actions {
		if a == name {
			return true
		}
	}
	return false
}

// The gateway's route templates (Gin syntax) whose successful GET calls are
// reads of tickets, and the action each one records.
const (
	routeTicket        = "/user_request/:id"
	routeMyTickets     = "/user_request/my"
	routeStaffRequests = "/staff/requests"
)

// ticketDisplayPrefix is the prefix of a ticket's display id ("REQ000001").
const ticketDisplayPrefix = "REQ"

// ReadAction returns the ticket read that an API call records, and the
// ticket it concerns (0 when it concerns none or the path id does not
// parse), or "" when the call is not a read of tickets: only GET calls
// answered below 400 on the ticket routes count.
func ReadAction(c Call) (action string, requestID int64) {
	if c.Method != "GET" || c.StatusCode >= 400 {
		return "", 0
	}
	route := c.Route
	if len(route) > 1 {
		route = strings.TrimSuffix(route, "/")
	}
	switch route {
	case routeTicket:
		path := strings.TrimSuffix(c.Path, "/")
		return ActionViewRequest, ParseRequestID(path[strings.LastIndexByte(path, '/')+1:])
	case routeMyTickets:
		return ActionViewMyRequests, 0
	case routeStaffRequests:
		return ActionListAssignedRequests, 0
	}
	return "", 0
}

// ParseRequestID reads a ticket id given as an integer ("17") or as a
// display id ("REQ000017", any case), as the tickets service accepts it in a
// path; it returns 0 when raw is neither.
func ParseRequestID(raw string) int64 {
	digits := raw
	if len(raw) > len(ticketDisplayPrefix) && strings.EqualFold(raw[:len(ticketDisplayPrefix)], ticketDisplayPrefix) {
		digits = raw[len(ticketDisplayPrefix):]
	}
	if digits == "" || digits[0] < '0' || digits[0] > '9' {
		return 0 // ParseInt would take a sign
	}
	id, err := strconv.ParseInt(digits, 10, 64)
	if err != nil || id <= 0 {
		return 0
	}
	return id
}
