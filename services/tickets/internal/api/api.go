// Package api is the tickets service's HTTP transport: request and response
// JSON, and the Gin handlers that call the ticket service.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// Tickets is what the handlers need of the ticket service.
type Tickets interface {
	Create(ctx context.Context, a ticket.Actor, d ticket.Draft) (ticket.View, error)
	Get(ctx context.Context, a ticket.Actor, id int64) (ticket.View, error)
}

// Handler serves the ticket routes.
type Handler struct {
	tickets Tickets
	tokens  *token.Manager
	logger  *slog.Logger
}

// New returns a Handler.
func New(tickets Tickets, tokens *token.Manager, logger *slog.Logger) *Handler {
	return &Handler{tickets: tickets, tokens: tokens, logger: logger}
}

// Routes registers the ticket routes on e. Permissions and object-level
// rules are checked by the ticket service.
func (h *Handler) Routes(e *gin.Engine) {
	g := e.Group("/user_request", web.Authenticate(h.tokens))
	// The seed's clients post to "/user_request/"; both forms are the same
	// route, without a redirect.
	g.POST("", h.create)
	g.POST("/", h.create)
	g.GET("/:id", h.get)
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
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	FatherName *string `json:"father_name"`
}

func toUserJSON(u ticket.User) userJSON {
	return userJSON{
		ID: u.ID, DisplayID: fmt.Sprintf("USR%06d", u.ID), Email: u.Email, Role: string(u.Role),
		FirstName: u.FirstName, LastName: u.LastName, FatherName: u.FatherName,
	}
}

// ticketJSON is the contract's ticket object.
type ticketJSON struct {
	ID           int64     `json:"id"`
	DisplayID    string    `json:"display_id"`
	Title        *string   `json:"title"`
	Text         string    `json:"text"`
	Status       string    `json:"status"`
	Priority     string    `json:"priority"`
	Category     *string   `json:"category"`
	StaffComment *string   `json:"staff_comment"`
	Version      int       `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Owner        userJSON  `json:"owner"`
	StaffMember  *userJSON `json:"staff_member"`
}

func toTicketJSON(v ticket.View) ticketJSON {
	out := ticketJSON{
		ID: v.ID, DisplayID: v.DisplayID(), Title: v.Title, Text: v.Text, Status: string(v.Status),
		Priority: string(v.Priority), Category: v.Category, StaffComment: v.StaffComment, Version: v.Version,
		CreatedAt: v.CreatedAt, UpdatedAt: v.UpdatedAt, Owner: toUserJSON(v.Owner),
	}
	if v.Staff != nil {
		s := toUserJSON(*v.Staff)
		out.StaffMember = &s
	}
	return out
}

// etag is the entity tag of a ticket's current version.
func etag(v ticket.View) string { return fmt.Sprintf(`"%d-%d"`, v.ID, v.Version) }

type createRequest struct {
	Text     *string `json:"text"`
	Title    *string `json:"title"`
	Priority *string `json:"priority"`
	Category *string `json:"category"`
}

func (h *Handler) create(c *gin.Context) {
	var req createRequest
	if err := web.BindJSON(c, &req); err != nil {
		web.Error(c, h.logger, err)
		return
	}
	v, err := h.tickets.Create(c.Request.Context(), actor(c), ticket.Draft{
		Text: req.Text, Title: req.Title, Priority: req.Priority, Category: req.Category,
	})
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.Header("Location", "/user_request/"+strconv.FormatInt(v.ID, 10))
	c.Header("ETag", etag(v))
	c.JSON(http.StatusCreated, toTicketJSON(v))
}

func (h *Handler) get(c *gin.Context) {
	id, err := web.ParseID(c.Param("id"), "REQ")
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	v, err := h.tickets.Get(c.Request.Context(), actor(c), id)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.Header("ETag", etag(v))
	c.JSON(http.StatusOK, toTicketJSON(v))
}
