package events

import "time"

// Event types. Each payload struct below documents the data of one type.
const (
	TypeUserRegistered      = "support.user.registered.v1"
	TypeUserProfileUpdated  = "support.user.profile_updated.v1"
	TypeUserPasswordChanged = "support.user.password_changed.v1"
	TypeUserRoleChanged     = "support.user.role_changed.v1"
	TypeUserDeleted         = "support.user.deleted.v1"
	TypeUserLoggedIn        = "support.user.logged_in.v1"
	TypeUserLoginFailed     = "support.user.login_failed.v1"
	TypeUserLoggedOut       = "support.user.logged_out.v1"
	TypeUserRefreshReused   = "support.user.refresh_reuse_detected.v1"

	TypeTicketCreated       = "support.ticket.created.v1"
	TypeTicketUpdated       = "support.ticket.updated.v1"
	TypeTicketDeleted       = "support.ticket.deleted.v1"
	TypeTicketStatusChanged = "support.ticket.status_changed.v1"
	TypeTicketAssigned      = "support.ticket.assigned.v1"
	TypeTicketUnassigned    = "support.ticket.unassigned.v1"
	TypeTicketCommentAdded  = "support.ticket.comment_added.v1"
	TypeTicketSLABreached   = "support.ticket.sla_breached.v1"
	TypeWebhookDeactivated  = "support.webhook.deactivated.v1"
	TypeAPIRequest          = "support.api.request.v1"
	TypeAPIRefused          = "support.api.refused.v1"
)

// Sources name the service that emitted an event.
const (
	SourceAuth     = "/services/auth"
	SourceTickets  = "/services/tickets"
	SourceGateway  = "/services/gateway"
	SourceWebhooks = "/services/webhooks"
)

// User is the public view of a user carried in user events. It never holds
// credentials.
type User struct {
	ID         int64   `json:"id"`
	DisplayID  string  `json:"display_id"`
	Email      string  `json:"email"`
	Role       string  `json:"role"`
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	FatherName *string `json:"father_name"`
	INN        *string `json:"inn"`
	Phone      *string `json:"phone"`
	Active     bool    `json:"active"`
	// Version counts the user's published changes: of two events of one
	// user, the one with the higher version is the later state, whatever
	// order they arrive in. 0 in events from before versions.
	Version int64 `json:"version"`
}

// UserRegistered is the data of support.user.registered.v1.
type UserRegistered struct {
	User      User      `json:"user"`
	CreatedAt time.Time `json:"created_at"`
}

// Revocation, in a user event, tells every gateway to refuse some access
// tokens of the user from now on: those of the listed sessions (a session is
// a login and the tokens refreshed from it), or all of them. Access tokens
// live minutes, so a gateway only needs the revocations of the last token
// lifetime.
type Revocation struct {
	UserID      int64    `json:"user_id"`
	SessionIDs  []string `json:"session_ids,omitempty"`
	AllSessions bool     `json:"all_sessions,omitempty"`
}

// UserChanged is the data of support.user.profile_updated.v1,
// support.user.role_changed.v1 and support.user.deleted.v1: the user before
// and after the change (After.Active is false once deleted), and the
// revocation the change implies, if any.
type UserChanged struct {
	Before User        `json:"before"`
	After  User        `json:"after"`
	Revoke *Revocation `json:"revoke,omitempty"`
}

// UserSecurity is the data of the security events: password_changed,
// logged_in, login_failed, logged_out and refresh_reuse_detected. It never
// holds a password, hash or token, only a token's id.
type UserSecurity struct {
	UserID    *int64      `json:"user_id"`
	Email     string      `json:"email,omitempty"`
	Reason    string      `json:"reason,omitempty"`
	IPAddress string      `json:"ip_address,omitempty"`
	Revoke    *Revocation `json:"revoke,omitempty"`
}

// Ticket is the state of a support request carried in ticket events.
type Ticket struct {
	ID           int64     `json:"id"`
	DisplayID    string    `json:"display_id"`
	OwnerID      int64     `json:"owner_id"`
	StaffID      *int64    `json:"staff_id"`
	Title        *string   `json:"title"`
	Text         string    `json:"text"`
	Status       string    `json:"status"`
	Priority     string    `json:"priority"`
	Category     *string   `json:"category"`
	StaffComment *string   `json:"staff_comment"`
	Version      int       `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// TicketCreated is the data of support.ticket.created.v1. Before is always
// null; it is there so that every ticket change reads the same way.
type TicketCreated struct {
	Before *Ticket `json:"before"`
	After  Ticket  `json:"after"`
}

// TicketChanged is the data of the other ticket events (updated, deleted,
// status_changed, assigned, unassigned, comment_added): the ticket before
// and after the change (After is null once deleted), and the comment for
// comment_added.
type TicketChanged struct {
	Before  *Ticket  `json:"before"`
	After   *Ticket  `json:"after"`
	Comment *Comment `json:"comment,omitempty"`
}

// TicketSLABreached is the data of support.ticket.sla_breached.v1: one of
// the ticket's SLA clocks (Kind: first_response or resolution) passed its
// due time unmet. It is published once per ticket and kind.
type TicketSLABreached struct {
	Kind   string    `json:"kind"`
	DueAt  time.Time `json:"due_at"`
	Ticket Ticket    `json:"ticket"`
}

// Webhook is a webhook endpoint as webhook events carry it: never its
// secret.
type Webhook struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	EventTypes   []string   `json:"event_types"`
	Description  string     `json:"description"`
	Active       bool       `json:"active"`
	FailingSince *time.Time `json:"failing_since"`
}

// WebhookDeactivated is the data of support.webhook.deactivated.v1: an
// endpoint whose deliveries kept failing was turned off.
type WebhookDeactivated struct {
	Webhook Webhook `json:"webhook"`
	Reason  string  `json:"reason"`
}

// Comment is a comment in a ticket's thread.
type Comment struct {
	ID        int64     `json:"id"`
	TicketID  int64     `json:"ticket_id"`
	AuthorID  int64     `json:"author_id"`
	Body      string    `json:"body"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"created_at"`
}

// APIRequest is the data of support.api.request.v1, one per API call seen by
// the gateway. Path never includes the query string.
type APIRequest struct {
	Method      string  `json:"method"`
	Route       string  `json:"route"`
	Path        string  `json:"path"`
	StatusCode  int     `json:"status_code"`
	ProcessTime float64 `json:"process_time"` // seconds
	IPAddress   string  `json:"ip_address"`
	UserAgent   string  `json:"user_agent"`
	UserID      *int64  `json:"user_id"`
	Role        string  `json:"role"`
	RequestID   string  `json:"request_id"`
	TraceID     string  `json:"trace_id"`
}

// APIRefused is the data of support.api.refused.v1: the requests of one
// client (and user, when known) to one route that the gateway's rate limits
// refused within one minute, counted in one event rather than published one
// by one, so that a flood costs the log one entry per client, route and
// minute. From and To are the times of the first and last refusal counted.
type APIRefused struct {
	Method     string    `json:"method"`
	Route      string    `json:"route"`
	StatusCode int       `json:"status_code"`
	IPAddress  string    `json:"ip_address"`
	UserID     *int64    `json:"user_id"`
	Role       string    `json:"role"`
	Count      int64     `json:"count"`
	From       time.Time `json:"from"`
	To         time.Time `json:"to"`
}
