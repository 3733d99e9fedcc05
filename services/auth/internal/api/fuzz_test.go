package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

// recordingUsers records what the body handlers ask of the user service
// and answers with an empty user or session; the methods they do not call
// are left to the nil interface.
type recordingUsers struct {
	Users
	called       string
	registration user.Registration
	patch        user.ProfilePatch
	role         access.Role
}

func (r *recordingUsers) Register(_ context.Context, reg user.Registration, _ access.Role, _ events.Actor) (user.User, error) {
	r.called, r.registration = "register", reg
	return user.User{}, nil
}

func (r *recordingUsers) Login(context.Context, string, string, string) (user.Session, error) {
	r.called = "login"
	return user.Session{}, nil
}

func (r *recordingUsers) Refresh(context.Context, string) (user.Session, error) {
	r.called = "refresh"
	return user.Session{}, nil
}

func (r *recordingUsers) Logout(context.Context, token.Claims, string) error {
	r.called = "logout"
	return nil
}

func (r *recordingUsers) UpdateProfile(_ context.Context, _ int64, p user.ProfilePatch) (user.User, error) {
	r.called, r.patch = "updateProfile", p
	return user.User{}, nil
}

func (r *recordingUsers) ChangePassword(context.Context, token.Claims, string, string) error {
	r.called = "changePassword"
	return nil
}

func (r *recordingUsers) ChangeRole(_ context.Context, _ events.Actor, _ int64, role access.Role) (user.User, error) {
	r.called, r.role = "changeRole", role
	return user.User{}, nil
}

// FuzzRequestBodies sends one body to every auth handler that reads one
// (register, login, refresh, logout, profile update, password change,
// staff registration, role change), decoded strictly by web.BindJSON, and
// checks that none panics or answers a 5xx: a body the handler refuses is
// a 400 or 422 problem and reaches no service; one it accepts reaches the
// service as the body says (a password given; the profile update's members
// present exactly, null clearing; a role given).
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"email":"ann@example.com","password":"Secret123"}`,
		`{"email":"ann@example.com","password":"Secret123","inn":"7707083893","phone":"+79001234567","first_name":"Ann","last_name":null,"father_name":"","birth_date":"1990-05-17"}`,
		`{"email":"ann@example.com","password":""}`, `{"email":"ann@example.com"}`,
		`{"refresh_token":"abc"}`, `{"refresh_token":null}`, `{"refresh_token":1}`,
		`{"current_password":"Secret123","new_password":"Secret456"}`,
		`{"first_name":"Ann","inn":null}`, `{"email":"x@y.z"}`, `{"role":"admin"}`, `{"role":null}`, `{"role":1}`,
		`{"first_name":1}`, `{"unknown":"x"}`, `{"Email":"ann@example.com","password":"x"}`,
		`{"password":"a","password":"b"}`, `{"password":"a\u0000"}`, `{"first_name":"\u0000"}`,
		`{}`, `[]`, `null`, ``, `{"email":"a"} {}`, `{"email":`, strings.Repeat("[", 10000), `{"x":[1 2]}`,
	} {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.TestMode)
	rec := &recordingUsers{}
	h := New(rec, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	handlers := []struct {
		name    string
		service string // the service method it calls
		serve   gin.HandlerFunc
	}{
		{"register", "register", h.register},
		{"login", "login", h.login},
		{"refresh", "refresh", h.refresh},
		{"logout", "logout", h.logout},
		{"updateProfile", "updateProfile", h.updateProfile},
		{"changePassword", "changePassword", h.changePassword},
		{"registerStaff", "register", h.registerAs(access.RoleStaff)},
		{"changeRole", "changeRole", h.changeRole},
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, handler := range handlers {
			*rec = recordingUsers{}
			w := httptest.NewRecorder()
			c, _ := gin.CreateTestContext(w)
			c.Request = &http.Request{
				Method: http.MethodPost, URL: &url.URL{Path: "/"}, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
			}
			c.Params = gin.Params{{Key: "id", Value: "1"}}
			handler.serve(c)
			if rec.called == "" {
				if (w.Code != http.StatusBadRequest && w.Code != http.StatusUnprocessableEntity) ||
					!strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
					t.Fatalf("%s(%q) answered %d %s, want a 400 or 422 problem", handler.name, body, w.Code, w.Header().Get("Content-Type"))
				}
				continue
			}
			if rec.called != handler.service || w.Code >= 300 {
				t.Fatalf("%s(%q) called %s and answered %d", handler.name, body, rec.called, w.Code)
			}
			switch handler.service {
			case "register":
				if rec.registration.Password == "" {
					t.Fatalf("%s(%q) registered without a password", handler.name, body)
				}
			case "changeRole":
				var req struct{ Role *string }
				if json.Unmarshal(body, &req) != nil || req.Role == nil || access.Role(*req.Role) != rec.role {
					t.Fatalf("changeRole(%q) asked for role %q", body, rec.role)
				}
			case "updateProfile":
				checkProfilePatch(t, body, rec.patch)
			}
		}
	})
}

// checkProfilePatch checks that p holds exactly the members of body, all
// of them fields a user can change: each one present is set, to nil when
// null.
func checkProfilePatch(t *testing.T, body []byte, p user.ProfilePatch) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatalf("updateProfile accepted %q, which is not an object: %v", body, err)
	}
	fields := map[string]user.Field{
		"inn": p.INN, "phone": p.Phone, "first_name": p.FirstName,
		"last_name": p.LastName, "father_name": p.FatherName, "birth_date": p.BirthDate,
	}
	for name := range members {
		if _, known := fields[name]; !known {
			t.Fatalf("updateProfile accepted %q, with member %q", body, name)
		}
	}
	for name, f := range fields {
		raw, present := members[name]
		if f.Set != present || (present && (f.Value == nil) != (string(raw) == "null")) {
			t.Fatalf("updateProfile(%q): %s is %+v", body, name, f)
		}
	}
}
