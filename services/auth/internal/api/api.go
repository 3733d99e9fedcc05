// Package api is the auth service's HTTP transport: request and response
// JSON, and the Gin handlers that call the user service.
package api

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

// Users is what the handlers need of the user service.
type Users interface {
	Register(ctx context.Context, r user.Registration, role access.Role, actor events.Actor) (user.User, error)
	Login(ctx context.Context, email, password, client string) (user.Session, error)
	Get(ctx context.Context, id int64) (user.User, error)
	Refresh(ctx context.Context, raw string) (user.Session, error)
	Logout(ctx context.Context, claims token.Claims, refresh string) error
	UpdateProfile(ctx context.Context, id int64, p user.ProfilePatch) (user.User, error)
	ChangePassword(ctx context.Context, claims token.Claims, current, next string) error
	List(ctx context.Context, role access.Role, offset, limit int) ([]user.User, int64, error)
	Delete(ctx context.Context, actor events.Actor, id int64, role access.Role) error
	ChangeRole(ctx context.Context, actor events.Actor, id int64, role access.Role) (user.User, error)
}

// Handler serves the auth routes.
type Handler struct {
	users  Users
	tokens *token.Manager
	logger *slog.Logger
}

// New returns a Handler.
func New(users Users, tokens *token.Manager, logger *slog.Logger) *Handler {
	return &Handler{users: users, tokens: tokens, logger: logger}
}

// Routes registers the auth routes on e.
func (h *Handler) Routes(e *gin.Engine) {
	g := e.Group("/auth")
	g.POST("/register", h.register)
	g.POST("/login", h.login)
	g.POST("/refresh", h.refresh)
	authed := g.Group("", web.Authenticate(h.tokens))
	authed.POST("/logout", h.logout)
	authed.POST("/verify-token", h.verifyToken)
	authed.GET("/profile", web.Require(access.ManageProfile), h.profile)
	authed.PUT("/profile", web.Require(access.ManageProfile), h.updateProfile)
	authed.POST("/change-password", web.Require(access.ManageProfile), h.changePassword)

	admin := e.Group("", web.Authenticate(h.tokens))
	admin.POST("/staff/register", web.Require(access.ManageStaff), h.registerAs(access.RoleStaff))
	admin.POST("/admin/register", web.Require(access.ManageUsers), h.registerAs(access.RoleAdmin))
	admin.GET("/admin/users", web.Require(access.ViewUsers), h.list(access.RoleUser))
	admin.GET("/admin/staff", web.Require(access.ViewStaff), h.list(access.RoleStaff))
	admin.DELETE("/admin/users/:id", web.Require(access.DeleteUsers), h.delete(access.RoleUser, "User deleted successfully"))
	admin.DELETE("/admin/staff/:id", web.Require(access.DeleteStaff), h.delete(access.RoleStaff, "Staff member deleted successfully"))
	admin.PUT("/admin/users/:id/role", web.Require(access.ManageUsers), h.changeRole)
}

// profileJSON is the personal data of a user, as the contract's user
// object and the registration carry it.
type profileJSON struct {
	INN        *string `json:"inn"`
	Phone      *string `json:"phone"`
	FirstName  *string `json:"first_name"`
	LastName   *string `json:"last_name"`
	FatherName *string `json:"father_name"`
	BirthDate  *string `json:"birth_date"` // YYYY-MM-DD
}

// userJSON is the contract's user object; it never carries a hash.
type userJSON struct {
	ID        int64  `json:"id"`
	DisplayID string `json:"display_id"`
	Email     string `json:"email"`
	Role      string `json:"role"`
	profileJSON
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toJSON(u user.User) userJSON {
	out := userJSON{
		ID: u.ID, DisplayID: u.DisplayID(), Email: u.Email, Role: string(u.Role),
		profileJSON: profileJSON{INN: u.INN, Phone: u.Phone, FirstName: u.FirstName, LastName: u.LastName, FatherName: u.FatherName},
		CreatedAt:   u.CreatedAt, UpdatedAt: u.UpdatedAt,
	}
	if u.BirthDate != nil {
		d := u.BirthDate.Format(time.DateOnly)
		out.BirthDate = &d
	}
	return out
}

type registerRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	profileJSON
}

func (h *Handler) register(c *gin.Context) {
	var req registerRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	reg := user.Registration{Email: req.Email, Password: req.Password, Profile: user.Profile(req.profileJSON)}
	if u, ok := h.create(c, reg, access.RoleUser, events.Actor{}); ok {
		c.Header("Location", "/admin/users/"+strconv.FormatInt(u.ID, 10))
		c.JSON(http.StatusCreated, toJSON(u))
	}
}

// create registers reg with role on behalf of actor; false when it
// answered an error.
func (h *Handler) create(c *gin.Context, reg user.Registration, role access.Role, actor events.Actor) (user.User, bool) {
	if reg.Password == "" {
		web.Error(c, h.logger, fault.Fields(fault.FieldError{Field: "password", Message: "is required"}))
		return user.User{}, false
	}
	u, err := h.users.Register(c.Request.Context(), reg, role, actor)
	if err != nil {
		web.Error(c, h.logger, err)
		return user.User{}, false
	}
	return u, true
}

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// clientIP is the address the gateway saw: the last X-Forwarded-For entry,
// which the gateway appends (it drops any the client sent), or the peer.
func clientIP(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		parts := strings.Split(xff, ",")
		return strings.TrimSpace(parts[len(parts)-1])
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

type loginResponse struct {
	AccessToken  string              `json:"access_token"`
	RefreshToken string              `json:"refresh_token"`
	TokenType    string              `json:"token_type"`
	ExpiresIn    int                 `json:"expires_in"`
	UserID       int64               `json:"user_id"`
	Role         string              `json:"role"`
	Permissions  []access.Permission `json:"permissions"`
}

func (h *Handler) login(c *gin.Context) {
	var req loginRequest
	if !web.Bind(c, h.logger, &req) {
		return
	}
	s, err := h.users.Login(c.Request.Context(), req.Email, req.Password, clientIP(c.Request))
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	h.session(c, s)
}

func (h *Handler) session(c *gin.Context, s user.Session) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, loginResponse{
		AccessToken:  s.AccessToken,
		RefreshToken: s.RefreshToken,
		TokenType:    "bearer",
		ExpiresIn:    int(s.ExpiresIn.Seconds()),
		UserID:       s.User.ID,
		Role:         string(s.User.Role),
		Permissions:  access.Permissions(s.User.Role),
	})
}

func (h *Handler) profile(c *gin.Context) {
	u, err := h.users.Get(c.Request.Context(), web.Claims(c).UserID())
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	c.JSON(http.StatusOK, toJSON(u))
}
