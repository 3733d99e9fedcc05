package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

// refresh takes the token from the body, or, as the seed did, from the
// query string (which is never logged: the gateway drops query strings).
func (h *Handler) refresh(c *gin.Context) {
	var req refreshRequest
	if c.Request.ContentLength != 0 {
		if !web.Bind(c, h.logger, &req) {
			return
		}
	}
	if req.RefreshToken == "" {
		req.RefreshToken = c.Query("refresh_token")
	}
	s, err := h.users.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	h.session(c, s)
}

func (h *Handler) logout(c *gin.Context) {
	var req refreshRequest
	if c.Request.ContentLength != 0 {
		if !web.Bind(c, h.logger, &req) {
			return
		}
	}
	if err := h.users.Logout(c.Request.Context(), web.Claims(c), req.RefreshToken); err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type verifyResponse struct {
	Valid       bool                `json:"valid"`
	UserID      int64               `json:"user_id"`
	Email       string              `json:"email"`
	Role        string              `json:"role"`
	Permissions []access.Permission `json:"permissions"`
}

func (h *Handler) verifyToken(c *gin.Context) {
	u, err := h.users.Get(c.Request.Context(), web.Claims(c).UserID())
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(http.StatusOK, verifyResponse{Valid: true, UserID: u.ID, Email: u.Email, Role: string(u.Role), Permissions: access.Permissions(u.Role)})
}

// updateProfile reads the body as raw members, so that a member set to null
// (clear it) differs from a member left out (keep it).
func (h *Handler) updateProfile(c *gin.Context) {
	var raw map[string]json.RawMessage
	if !web.Bind(c, h.logger, &raw) {
		return
	}
	var patch user.ProfilePatch
	fields := map[string]*user.Field{
		"inn": &patch.INN, "phone": &patch.Phone, "first_name": &patch.FirstName,
		"last_name": &patch.LastName, "father_name": &patch.FatherName, "birth_date": &patch.BirthDate,
	}
	var bad []fault.FieldError
	for name, value := range raw {
		f, ok := fields[name]
		switch {
		case name == "email" || name == "role":
			bad = append(bad, fault.FieldError{Field: name, Message: "cannot be changed"})
		case !ok:
			bad = append(bad, fault.FieldError{Field: name, Message: "is not a known field"})
		default:
			f.Set = true
			if err := json.Unmarshal(value, &f.Value); err != nil {
				bad = append(bad, fault.FieldError{Field: name, Message: "must be a string or null"})
			}
		}
	}
	if len(bad) > 0 {
		web.Error(c, h.logger, fault.Fields(bad...))
		return
	}
	u, err := h.users.UpdateProfile(c.Request.Context(), web.Claims(c).UserID(), patch)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(u))
}

type changePasswordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (h *Handler) changePassword(c *gin.Context) {
	var req changePasswordRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	if err := h.users.ChangePassword(c.Request.Context(), web.Claims(c), req.CurrentPassword, req.NewPassword); err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"message": "Password changed successfully"})
}
