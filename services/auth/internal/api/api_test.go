package api_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/auth/internal/api"
	"github.com/supportdesk/supportdesk/services/auth/internal/postgres"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

type env struct {
	engine *gin.Engine
	pool   *pgxpool.Pool
	tokens *token.Manager
	users  *user.Service
}

func setup(t *testing.T) env {
	t.Helper()
	pool, _ := pgtest.New(t, postgres.Migrations)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := token.NewManager([]byte(strings.Repeat("k", 32)), 30*time.Minute)
	users, err := user.NewService(postgres.NewStore(pool), tokens, logger)
	if err != nil {
		t.Fatal(err)
	}
	e := web.NewEngine(logger, prometheus.NewRegistry())
	api.New(users, tokens, logger).Routes(e)
	return env{engine: e, pool: pool, tokens: tokens, users: users}
}

func (e env) do(t *testing.T, method, path, body, bearer string) (int, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON", method, path, rec.Body)
		}
	}
	return rec.Code, out
}

func (e env) outboxTypes(t *testing.T) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), "SELECT event->>'type' FROM auth.outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var types []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		types = append(types, s)
	}
	return types
}

func TestRegisterLoginProfile(t *testing.T) {
	e := setup(t)
	status, u := e.do(t, "POST", "/auth/register", `{"email":" Alice@Example.COM ","password":"Str0ngPassw0rd","phone":"+7 (900) 123-45-67","first_name":"Alice","birth_date":"1990-05-01"}`, "")
	if status != http.StatusCreated {
		t.Fatalf("register = %d %v", status, u)
	}
	want := map[string]any{
		"id": float64(1), "display_id": "USR000001", "email": "alice@example.com", "role": "user",
		"inn": nil, "phone": "+79001234567", "first_name": "Alice", "last_name": nil, "father_name": nil,
		"birth_date": "1990-05-01",
	}
	for k, v := range want {
		if diff := cmp.Diff(v, u[k]); diff != "" {
			t.Errorf("user.%s (-want +got):\n%s", k, diff)
		}
	}
	for _, k := range []string{"password", "password_hash"} {
		if _, ok := u[k]; ok {
			t.Errorf("user object carries %s", k)
		}
	}
	if got := e.outboxTypes(t); !cmp.Equal(got, []string{"support.user.registered.v1"}) {
		t.Errorf("outbox = %v", got)
	}

	status, p := e.do(t, "POST", "/auth/register", `{"email":"ALICE@example.com","password":"Str0ngPassw0rd"}`, "")
	if status != 400 || p["detail"] != "Email already registered" {
		t.Errorf("duplicate = %d %v", status, p)
	}

	status, s := e.do(t, "POST", "/auth/login", `{"email":"alice@EXAMPLE.com","password":"Str0ngPassw0rd"}`, "")
	if status != 200 || s["token_type"] != "bearer" || s["expires_in"] != float64(1800) || s["role"] != "user" || s["refresh_token"] == "" {
		t.Fatalf("login = %d %v", status, s)
	}
	if perms, _ := s["permissions"].([]any); len(perms) != len(access.Permissions(access.RoleUser)) {
		t.Errorf("permissions = %v", s["permissions"])
	}

	status, prof := e.do(t, "GET", "/auth/profile", "", s["access_token"].(string))
	if status != 200 || prof["email"] != "alice@example.com" {
		t.Errorf("profile = %d %v", status, prof)
	}
	if status, _ := e.do(t, "GET", "/auth/profile", "", ""); status != 401 {
		t.Errorf("profile without token = %d", status)
	}
}

func TestRejectedRegistrationWritesNothing(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name, body string
		status     int
		field      string
	}{
		{"weak password", `{"email":"a@example.com","password":"password"}`, 400, "password"},
		{"bad email", `{"email":"not-an-email","password":"Str0ngPassw0rd"}`, 422, "email"},
		{"bad inn", `{"email":"a@example.com","password":"Str0ngPassw0rd","inn":"12ab"}`, 422, "inn"},
		{"bad phone", `{"email":"a@example.com","password":"Str0ngPassw0rd","phone":"12"}`, 422, "phone"},
		{"future birth date", `{"email":"a@example.com","password":"Str0ngPassw0rd","birth_date":"2999-01-01"}`, 422, "birth_date"},
		{"long name", `{"email":"a@example.com","password":"Str0ngPassw0rd","last_name":"` + strings.Repeat("x", 101) + `"}`, 422, "last_name"},
		{"missing password", `{"email":"a@example.com"}`, 422, "password"},
		{"role smuggled in", `{"email":"a@example.com","password":"Str0ngPassw0rd","role":"admin"}`, 422, "role"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, p := e.do(t, "POST", "/auth/register", tt.body, "")
			if status != tt.status {
				t.Fatalf("status = %d, want %d: %v", status, tt.status, p)
			}
			errs, _ := p["errors"].([]any)
			if len(errs) == 0 || errs[0].(map[string]any)["field"] != tt.field {
				t.Errorf("errors = %v, want field %s", p["errors"], tt.field)
			}
		})
	}
	if n := pgtest.Count(t, e.pool, "SELECT count(*) FROM auth.users"); n != 0 {
		t.Errorf("%d users written by rejected registrations", n)
	}
	if got := e.outboxTypes(t); len(got) != 0 {
		t.Errorf("outbox = %v", got)
	}
}

func TestLoginFailuresLookAlike(t *testing.T) {
	e := setup(t)
	if status, _ := e.do(t, "POST", "/auth/register", `{"email":"bob@example.com","password":"Str0ngPassw0rd"}`, ""); status != 201 {
		t.Fatal(status)
	}
	_, unknown := e.do(t, "POST", "/auth/login", `{"email":"nobody@example.com","password":"Str0ngPassw0rd"}`, "")
	status, wrong := e.do(t, "POST", "/auth/login", `{"email":"bob@example.com","password":"Wr0ngPassw0rd"}`, "")
	if status != 401 || wrong["detail"] != "Invalid email or password" {
		t.Errorf("wrong password = %d %v", status, wrong)
	}
	delete(unknown, "trace_id")
	delete(wrong, "trace_id")
	if diff := cmp.Diff(unknown, wrong); diff != "" {
		t.Errorf("unknown email and wrong password answer differently:\n%s", diff)
	}
}

func TestBootstrapIsIdempotent(t *testing.T) {
	e := setup(t)
	inn, phone := "123456789012", "+7-900-123-4567"
	seeds := []user.Seed{
		{Role: access.RoleAdmin, Email: "admin@company.com", Password: "SecureAdminPass123!"},
		{Role: access.RoleStaff, Email: "staff@company.com", Password: "SecureStaffPass123!"},
		{Role: access.RoleUser, Email: "user@company.com", Password: "SecureUserPass123!", Profile: user.Profile{INN: &inn, Phone: &phone}},
		{Role: access.RoleStaff}, // unset variables: skipped
	}
	for range 2 {
		if err := e.users.Bootstrap(context.Background(), seeds); err != nil {
			t.Fatal(err)
		}
	}
	if n := pgtest.Count(t, e.pool, "SELECT count(*) FROM auth.users"); n != 3 {
		t.Errorf("%d users after two bootstraps, want 3", n)
	}
	status, s := e.do(t, "POST", "/auth/login", `{"email":"admin@company.com","password":"SecureAdminPass123!"}`, "")
	if status != 200 || s["role"] != "admin" {
		t.Errorf("admin login = %d %v", status, s)
	}
	if n := pgtest.Count(t, e.pool, "SELECT count(*) FROM auth.users WHERE phone = '+79001234567' AND inn = '123456789012'"); n != 1 {
		t.Error("the bootstrap user lacks its normalised phone and INN")
	}
}
