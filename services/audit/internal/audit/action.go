package audit

import "github.com/supportdesk/supportdesk/pkg/events"

// The actions on tickets that the request-actions log reports, named as in
// API_CONTRACT.md.
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
