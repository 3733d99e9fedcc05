// Package api is the webhooks service's HTTP transport: the admins'
// /admin/webhooks routes.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/webhooks/internal/webhook"
)

// Webhooks is what the handlers need of the domain.
type Webhooks interface {
	Create(ctx context.Context, a webhook.Actor, d webhook.Draft) (webhook.Endpoint, error)
	List(ctx context.Context, a webhook.Actor) ([]webhook.Endpoint, error)
	Get(ctx context.Context, a webhook.Actor, id string) (webhook.Endpoint, error)
	Update(ctx context.Context, a webhook.Actor, id string, p webhook.Patch) (webhook.Endpoint, error)
	Delete(ctx context.Context, a webhook.Actor, id string) error
	RotateSecret(ctx context.Context, a webhook.Actor, id string) (webhook.Endpoint, error)
	Attempts(ctx context.Context, a webhook.Actor, id string, offset, limit int) ([]webhook.Attempt, int64, error)
}

// Handler serves the webhook routes.
type Handler struct {
	webhooks Webhooks
	tokens   *token.Manager
	logger   *slog.Logger
}

// New returns a Handler.
func New(w Webhooks, tokens *token.Manager, logger *slog.Logger) *Handler {
	return &Handler{webhooks: w, tokens: tokens, logger: logger}
}

// Routes registers the routes on e, each behind token authentication (the
// domain checks manage-webhooks).
func (h *Handler) Routes(e *gin.Engine) {
	g := e.Group("/admin/webhooks", web.Authenticate(h.tokens))
	g.POST("", h.create)
	g.POST("/", h.create)
	g.GET("", h.list)
	g.GET("/", h.list)
	g.GET("/:id", h.get)
	g.PATCH("/:id", h.update)
	g.DELETE("/:id", h.delete)
	g.POST("/:id/rotate-secret", h.rotate)
	g.GET("/:id/deliveries", h.deliveries)
}

// pathID reads the webhook id of the path: a malformed one is a 422.
func (h *Handler) pathID(c *gin.Context) (string, bool) {
	id := c.Param("id")
	if uuid.Validate(id) != nil {
		web.Error(c, h.logger, fault.Fields(fault.FieldError{Field: "id", Message: "must be a webhook id (a UUID)"}))
		return "", false
	}
	return id, true
}

func actor(c *gin.Context) webhook.Actor {
	claims := web.Claims(c)
	return webhook.Actor{ID: claims.UserID(), Role: claims.Role}
}

// endpointJSON is the contract's webhook object; the secret only in the
// answers of a creation and a rotation.
type endpointJSON struct {
	ID           string     `json:"id"`
	URL          string     `json:"url"`
	EventTypes   []string   `json:"event_types"`
	Description  string     `json:"description"`
	Active       bool       `json:"active"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	FailingSince *time.Time `json:"failing_since"`
	Secret       string     `json:"secret,omitempty"`
}

func toEndpointJSON(e webhook.Endpoint, withSecret bool) endpointJSON {
	out := endpointJSON{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description, Active: e.Active,
		CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt, FailingSince: e.FailingSince}
	if withSecret {
		out.Secret = e.Secret
	}
	return out
}

func (h *Handler) reply(c *gin.Context, status int, e webhook.Endpoint, err error, withSecret bool) {
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(status, toEndpointJSON(e, withSecret))
}

type createRequest struct {
	URL         *string  `json:"url"`
	EventTypes  []string `json:"event_types"`
	Description *string  `json:"description"`
}

func (h *Handler) create(c *gin.Context) {
	var req createRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	e, err := h.webhooks.Create(c.Request.Context(), actor(c), webhook.Draft{URL: req.URL, EventTypes: req.EventTypes, Description: req.Description})
	if err == nil {
		c.Header("Location", "/admin/webhooks/"+e.ID)
	}
	h.reply(c, http.StatusCreated, e, err, true)
}

func (h *Handler) list(c *gin.Context) {
	list, err := h.webhooks.List(c.Request.Context(), actor(c))
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	items := make([]endpointJSON, len(list))
	for i, e := range list {
		items[i] = toEndpointJSON(e, false)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "total": len(items)})
}

func (h *Handler) get(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	e, err := h.webhooks.Get(c.Request.Context(), actor(c), id)
	h.reply(c, http.StatusOK, e, err, false)
}

type patchRequest struct {
	URL        *string  `json:"url"`
	EventTypes []string `json:"event_types"`
	Active     *bool    `json:"active"`
}

func (h *Handler) update(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req patchRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	e, err := h.webhooks.Update(c.Request.Context(), actor(c), id, webhook.Patch{URL: req.URL, EventTypes: req.EventTypes, Active: req.Active})
	h.reply(c, http.StatusOK, e, err, false)
}

func (h *Handler) delete(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	if err := h.webhooks.Delete(c.Request.Context(), actor(c), id); err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *Handler) rotate(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	e, err := h.webhooks.RotateSecret(c.Request.Context(), actor(c), id)
	h.reply(c, http.StatusOK, e, err, true)
}

// attemptJSON is one delivery attempt.
type attemptJSON struct {
	ID         int64     `json:"id"`
	EventID    string    `json:"event_id"`
	EventType  string    `json:"event_type"`
	Attempt    int       `json:"attempt"`
	StatusCode *int      `json:"status_code"`
	Error      *string   `json:"error"`
	DurationMS int64     `json:"duration_ms"`
	CreatedAt  time.Time `json:"created_at"`
}

func (h *Handler) deliveries(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	p, fields := web.ParsePage(c, 50, 100)
	if len(fields) > 0 {
		web.Error(c, h.logger, fault.Fields(fields...))
		return
	}
	list, total, err := h.webhooks.Attempts(c.Request.Context(), actor(c), id, p.Offset(), p.Size)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	items := make([]attemptJSON, len(list))
	for i, a := range list {
		items[i] = attemptJSON{ID: a.ID, EventID: a.EventID, EventType: a.EventType, Attempt: a.Attempt, StatusCode: a.StatusCode,
			Error: a.Error, DurationMS: a.Duration.Milliseconds(), CreatedAt: a.CreatedAt}
	}
	c.JSON(http.StatusOK, web.NewPage(items, total, p))
}
