package api

import (
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/ids"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// etag is the entity tag of a ticket's current version.
func etag(t ticket.Ticket) string {
	return `"` + strconv.FormatInt(t.ID, 10) + "-" + strconv.Itoa(t.Version) + `"`
}

// ifMatch reads an If-Match header carrying a ticket's ETag and returns the
// version it names; no header means no precondition.
func ifMatch(c *gin.Context, id int64) (*int, error) {
	raw := strings.TrimPrefix(strings.TrimSpace(c.GetHeader("If-Match")), "W/")
	if raw == "" || raw == "*" {
		return nil, nil
	}
	idPart, version, ok := strings.Cut(strings.Trim(raw, `"`), "-")
	v, err := strconv.Atoi(version)
	if !ok || err != nil || idPart != strconv.FormatInt(id, 10) {
		return nil, fault.New(fault.Precondition, "bad_if_match", "If-Match does not name a version of this request; send the ETag of a GET")
	}
	return &v, nil
}

// idempotency reads the Idempotency-Key header and fingerprints the
// request (req, as decoded).
func idempotency(c *gin.Context, scope string, req any) (*ticket.Idempotency, error) {
	key := strings.TrimSpace(c.GetHeader("Idempotency-Key"))
	if key == "" {
		return nil, nil
	}
	if len(key) > 255 {
		return nil, fault.Fields(fault.FieldError{Field: "Idempotency-Key", Message: "must be at most 255 characters"})
	}
	// The request's canonical form: the same request hashes the same
	// whatever its spelling. Only a keyed request pays for it.
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	return &ticket.Idempotency{ActorID: actor(c).ID, Scope: scope, Key: key, Hash: sum[:]}, nil
}

type createRequest struct {
	Text     *string `json:"text"`
	Title    *string `json:"title"`
	Priority *string `json:"priority"`
	Category *string `json:"category"`
}

func (h *Handler) create(c *gin.Context) {
	var req createRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	idem, err := idempotency(c, "create_request", req)
	if err != nil {
		h.fail(c, err)
		return
	}
	v, err := h.tickets.Create(c.Request.Context(), actor(c), ticket.Draft{
		Text: req.Text, Title: req.Title, Priority: req.Priority, Category: req.Category,
	}, idem)
	if err != nil {
		h.fail(c, err)
		return
	}
	c.Header("Location", "/user_request/"+strconv.FormatInt(v.ID, 10))
	reply(c, http.StatusCreated, v)
}

// update reads the body as raw members, so that null (clear, or refused for
// text) differs from a member left out (keep).
func (h *Handler) update(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var raw map[string]json.RawMessage
	if !web.Bind(c, h.logger, &raw) {
		return
	}
	var p ticket.Patch
	fields := map[string]*ticket.Field{"text": &p.Text, "title": &p.Title, "priority": &p.Priority, "category": &p.Category}
	var bad []fault.FieldError
	for name, value := range raw {
		f, known := fields[name]
		if !known {
			bad = append(bad, fault.FieldError{Field: name, Message: "is not a field the owner can change"})
			continue
		}
		f.Set = true
		if err := json.Unmarshal(value, &f.Value); err != nil {
			bad = append(bad, fault.FieldError{Field: name, Message: "must be a string or null"})
		}
	}
	if len(bad) > 0 {
		h.fail(c, fault.Fields(bad...))
		return
	}
	version, err := ifMatch(c, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	v, err := h.tickets.Update(c.Request.Context(), actor(c), id, p, version)
	if err != nil {
		h.fail(c, err)
		return
	}
	reply(c, http.StatusOK, v)
}

type statusRequest struct {
	Status       *string `json:"status"`
	StaffComment *string `json:"staff_comment"`
}

func (h *Handler) changeStatus(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req statusRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	if req.Status == nil {
		h.fail(c, fault.Fields(fault.FieldError{Field: "status", Message: "is required"}))
		return
	}
	version, err := ifMatch(c, id)
	if err != nil {
		h.fail(c, err)
		return
	}
	v, err := h.tickets.ChangeStatus(c.Request.Context(), actor(c), id,
		ticket.StatusChange{Status: ticket.Status(*req.Status), StaffComment: req.StaffComment}, version)
	if err != nil {
		h.fail(c, err)
		return
	}
	reply(c, http.StatusOK, v)
}

func (h *Handler) assign(c *gin.Context) {
	id, ok := h.pathID(c)
	if !ok {
		return
	}
	var req struct {
		StaffID any `json:"staff_id"`
	}
	if !web.Bind(c, h.logger, &req) {
		return
	}
	staffID, err := staffIDOf(req.StaffID)
	if err != nil {
		h.fail(c, err)
		return
	}
	v, err := h.tickets.Assign(c.Request.Context(), actor(c), id, staffID)
	if err != nil {
		h.fail(c, err)
		return
	}
	reply(c, http.StatusOK, v)
}

// staffIDOf accepts a staff id as a number or as "USR000002".
func staffIDOf(v any) (int64, error) {
	bad := fault.Fields(fault.FieldError{Field: "staff_id", Message: "is required: a user id such as 2 or USR000002"})
	switch id := v.(type) {
	case float64:
		if id != float64(int64(id)) || id <= 0 {
			return 0, bad
		}
		return int64(id), nil
	case string:
		n, err := web.ParseID(id, ids.User)
		if err != nil {
			return 0, bad
		}
		return n, nil
	}
	return 0, bad
}
