package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// commentJSON is one entry of a ticket's thread.
type commentJSON struct {
	ID        int64     `json:"id"`
	Author    userJSON  `json:"author"`
	Body      string    `json:"body"`
	Internal  bool      `json:"internal"`
	CreatedAt time.Time `json:"created_at"`
}

func toCommentJSON(c ticket.CommentView) commentJSON {
	return commentJSON{ID: c.ID, Author: toUserJSON(c.Author), Body: c.Body, Internal: c.Internal, CreatedAt: c.CreatedAt}
}

func (h *Handler) comments(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	list, err := h.tickets.Comments(c.Request.Context(), actor(c), id)
	if err != nil {
		h.fail(c, err)
		return
	}
	items := make([]commentJSON, len(list))
	for i, cv := range list {
		items[i] = toCommentJSON(cv)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "total": len(items)})
}

type commentRequest struct {
	Body     *string `json:"body"`
	Internal bool    `json:"internal"`
}

func (h *Handler) addComment(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req commentRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	if req.Body == nil {
		h.fail(c, fault.Fields(fault.FieldError{Field: "body", Message: "is required"}))
		return
	}
	idem, err := idempotency(c, "add_comment:"+strconv.FormatInt(id, 10), req)
	if err != nil {
		h.fail(c, err)
		return
	}
	cv, err := h.tickets.AddComment(c.Request.Context(), actor(c), id, *req.Body, req.Internal, idem)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, toCommentJSON(cv))
}
