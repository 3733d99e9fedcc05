// Package api is the tickets service's HTTP transport: request and response
// JSON, and the Gin handlers that call the ticket service.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/ids"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// Tickets is what the handlers need of the ticket service.
type Tickets interface {
	Create(ctx context.Context, a ticket.Actor, d ticket.Draft, idem *ticket.Idempotency) (ticket.View, error)
	Get(ctx context.Context, a ticket.Actor, id int64) (ticket.View, error)
	Update(ctx context.Context, a ticket.Actor, id int64, p ticket.Patch, ifMatch *int) (ticket.View, error)
	Delete(ctx context.Context, a ticket.Actor, id int64) error
	ChangeStatus(ctx context.Context, a ticket.Actor, id int64, c ticket.StatusChange, ifMatch *int) (ticket.View, error)
	Assign(ctx context.Context, a ticket.Actor, id, staffID int64) (ticket.View, error)
	ListMine(ctx context.Context, a ticket.Actor, f ticket.Filter, p ticket.Page) ([]ticket.View, int64, *ticket.Cursor, error)
	ListForStaff(ctx context.Context, a ticket.Actor, f ticket.Filter, p ticket.Page) ([]ticket.View, int64, *ticket.Cursor, error)
	ListAll(ctx context.Context, a ticket.Actor, f ticket.Filter, p ticket.Page) ([]ticket.View, int64, *ticket.Cursor, error)
	Comments(ctx context.Context, a ticket.Actor, id int64) ([]ticket.CommentView, error)
	AddComment(ctx context.Context, a ticket.Actor, id int64, body string, internal bool, idem *ticket.Idempotency) (ticket.CommentView, error)
}

// Handler serves the tickets service's routes: the tickets and their
// comments, and the admin reports.
type Handler struct {
	tickets Tickets
	reports Reporter
	tokens  *token.Manager
	logger  *slog.Logger
}

// New returns a Handler.
func New(tickets Tickets, reports Reporter, tokens *token.Manager, logger *slog.Logger) *Handler {
	return &Handler{tickets: tickets, reports: reports, tokens: tokens, logger: logger}
}

// Routes registers the routes on e. Permissions and object-level rules are
// checked by the ticket service and the reports.
func (h *Handler) Routes(e *gin.Engine) {
	g := e.Group("/user_request", web.Authenticate(h.tokens))
	// The seed's clients post to "/user_request/"; both forms are the same
	// route, without a redirect.
	g.POST("", h.create)
	g.POST("/", h.create)
	g.GET("/my", h.list(Tickets.ListMine))
	g.GET("/:id", h.get)
	g.PUT("/:id", h.update)
	g.DELETE("/:id", h.delete)
	g.GET("/:id/comments", h.comments)
	g.POST("/:id/comments", h.addComment)

	staff := e.Group("/staff/requests", web.Authenticate(h.tokens))
	staff.GET("", h.list(Tickets.ListForStaff))
	staff.PUT("/:id/status", h.changeStatus)
	staff.POST("/:id/assign", h.assign)

	e.GET("/admin/requests", web.Authenticate(h.tokens), h.list(Tickets.ListAll))

	auth := web.Authenticate(h.tokens)
	e.GET("/admin/statistics", auth, h.statistics)
	e.GET("/admin/staff/workload", auth, h.workload)
	e.GET("/admin/requests/export", auth, h.export)
}

func actor(c *gin.Context) ticket.Actor {
	claims := web.Claims(c)
	return ticket.Actor{ID: claims.UserID(), Role: claims.Role}
}

// userJSON is the part of the contract's user object the directory knows.
type userJSON struct {
	ID         int64   `json:"id"`
	DisplayID  string  `json:"display_id"`
	Email      string  `json:"email"`
	Role       string  `json:"role"`
	INN        *string `json:"inn"`
	Phone      *string `json:"phone"`
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	FatherName *string `json:"father_name"`
}

func toUserJSON(u ticket.User) userJSON {
	return userJSON{
		ID: u.ID, DisplayID: ids.Display(ids.User, u.ID), Email: u.Email, Role: string(u.Role),
		INN: u.INN, Phone: u.Phone, FirstName: u.FirstName, LastName: u.LastName, FatherName: u.FatherName,
	}
}

// ticketFields are the fields of a ticket that both the contract's ticket
// object and its list item carry.
type ticketFields struct {
	ID        int64     `json:"id"`
	DisplayID string    `json:"display_id"`
	Title     *string   `json:"title"`
	Text      string    `json:"text"`
	Status    string    `json:"status"`
	Priority  string    `json:"priority"`
	Category  *string   `json:"category"`
	Version   int       `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	SLA       slaJSON   `json:"sla"`
}

// slaJSON is a ticket's SLA clocks as of the answer.
type slaJSON struct {
	FirstResponseDueAt    *time.Time `json:"first_response_due_at"`
	ResolutionDueAt       *time.Time `json:"resolution_due_at"`
	FirstResponseAt       *time.Time `json:"first_response_at"`
	ResolvedAt            *time.Time `json:"resolved_at"`
	FirstResponseBreached bool       `json:"first_response_breached"`
	ResolutionBreached    bool       `json:"resolution_breached"`
}

func toTicketFields(v ticket.View) ticketFields {
	return ticketFields{
		ID: v.ID, DisplayID: v.DisplayID(), Title: v.Title, Text: v.Text, Status: string(v.Status),
		Priority: string(v.Priority), Category: v.Category, Version: v.Version, CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt,
		SLA: slaJSON(v.SLA(time.Now())),
	}
}

// ticketJSON is the contract's ticket object.
type ticketJSON struct {
	ticketFields
	StaffComment *string   `json:"staff_comment"`
	Owner        userJSON  `json:"owner"`
	StaffMember  *userJSON `json:"staff_member"`
}

func toTicketJSON(v ticket.View) ticketJSON {
	out := ticketJSON{ticketFields: toTicketFields(v), StaffComment: v.StaffComment, Owner: toUserJSON(v.Owner)}
	if v.Staff != nil {
		s := toUserJSON(*v.Staff)
		out.StaffMember = &s
	}
	return out
}

// listItemJSON is the contract's list item.
type listItemJSON struct {
	ticketFields
	OwnerEmail       string  `json:"owner_email"`
	StaffMemberEmail *string `json:"staff_member_email"`
}

func toListItem(v ticket.View) listItemJSON {
	item := listItemJSON{ticketFields: toTicketFields(v), OwnerEmail: v.Owner.Email}
	if v.Staff != nil {
		item.StaffMemberEmail = &v.Staff.Email
	}
	return item
}

// reply sends a ticket with its ETag.
func reply(c *gin.Context, status int, v ticket.View) {
	c.Header("ETag", etag(v.Ticket))
	c.JSON(status, toTicketJSON(v))
}

func (h *Handler) fail(c *gin.Context, err error) { web.Error(c, h.logger, err) }

// pathID reads the ticket id of the path, as 17 or REQ000017.
func (h *Handler) pathID(c *gin.Context) (int64, bool) {
	id, err := web.ParseID(c.Param("id"), ids.Request)
	if err != nil {
		h.fail(c, err)
		return 0, false
	}
	return id, true
}

func (h *Handler) get(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	v, err := h.tickets.Get(c.Request.Context(), actor(c), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	reply(c, http.StatusOK, v)
}

type lister func(Tickets, context.Context, ticket.Actor, ticket.Filter, ticket.Page) ([]ticket.View, int64, *ticket.Cursor, error)

func (h *Handler) list(list lister) gin.HandlerFunc {
	return func(c *gin.Context) {
		f, p, err := parseList(c)
		if err != nil {
			h.fail(c, err)
			return
		}
		views, total, next, err := list(h.tickets, c.Request.Context(), actor(c), f, p)
		if err != nil {
			h.fail(c, err)
			return
		}
		items := make([]listItemJSON, len(views))
		for i, v := range views {
			items[i] = toListItem(v)
		}
		nextCursor := ""
		if next != nil {
			nextCursor = next.String()
		}
		out := web.NewCursorPage(items, web.Page{Number: p.Number, Size: p.Size}, nextCursor)
		if total >= 0 {
			out.Count(min(total, ticket.CountLimit), total > ticket.CountLimit)
		}
		c.JSON(http.StatusOK, out)
	}
}

func (h *Handler) delete(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	if err := h.tickets.Delete(c.Request.Context(), actor(c), id); err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Request deleted successfully"})
}
