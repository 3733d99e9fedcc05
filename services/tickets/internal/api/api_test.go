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
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/api"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

type env struct {
	engine *gin.Engine
	pool   *pgxpool.Pool
	tokens *token.Manager
}

// defaultPolicy is SLA_POLICY's default.
func defaultPolicy(t testing.TB) ticket.Policy {
	t.Helper()
	p, err := ticket.ParsePolicy(ticket.DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func setup(t *testing.T) env {
	t.Helper()
	pool, _ := pgtest.New(t, postgres.Migrations)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	tokens := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	store := postgres.NewStore(pool)
	e := web.NewEngine(logger, prometheus.NewRegistry())
	api.New(ticket.NewService(store, defaultPolicy(t)), ticket.NewReports(store), tokens, logger).Routes(e)

	// The directory learns of users from auth's events, as in production.
	dir := ticket.NewDirectory(store)
	first, phone := "Ann", "+79001234567"
	for _, u := range []events.User{
		{ID: 1, Email: "admin@company.com", Role: "admin", Active: true},
		{ID: 2, Email: "staff@company.com", Role: "staff", Active: true},
		{ID: 3, Email: "ann@example.com", Role: "user", FirstName: &first, Phone: &phone, Active: true},
		{ID: 4, Email: "bob@example.com", Role: "user", Active: true},
	} {
		ev, err := events.New(context.Background(), events.SourceAuth, events.TypeUserRegistered, "", events.Actor{}, events.UserRegistered{User: u})
		if err != nil {
			t.Fatal(err)
		}
		// Twice: redelivery must be harmless.
		for range 2 {
			if err := dir.Apply(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	return env{engine: e, pool: pool, tokens: tokens}
}

func (e env) token(t *testing.T, id int64, role access.Role) string {
	t.Helper()
	s, _, err := e.tokens.Issue(id, role, "s")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (e env) do(t *testing.T, method, path, body, bearer string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	return e.serve(req)
}

func (e env) serve(req *http.Request) (*httptest.ResponseRecorder, map[string]any) {
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	var out map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &out)
	return rec, out
}

func TestCreateAndGet(t *testing.T) {
	e := setup(t)
	ann := e.token(t, 3, access.RoleUser)

	rec, tk := e.do(t, "POST", "/user_request/", `{"text":"  My printer is on fire  ","priority":"urgent"}`, ann)
	if rec.Code != 201 {
		t.Fatalf("create = %d %v", rec.Code, tk)
	}
	if tk["display_id"] != "REQ000001" || tk["text"] != "My printer is on fire" || tk["status"] != "new" ||
		tk["priority"] != "urgent" || tk["staff_member"] != nil || tk["version"] != float64(1) {
		t.Errorf("ticket = %v", tk)
	}
	owner, _ := tk["owner"].(map[string]any)
	if owner["email"] != "ann@example.com" || owner["display_id"] != "USR000003" || owner["first_name"] != "Ann" || owner["phone"] != "+79001234567" {
		t.Errorf("owner = %v", owner)
	}
	if rec.Header().Get("ETag") != `"1-1"` || rec.Header().Get("Location") != "/user_request/1" {
		t.Errorf("headers = %v", rec.Header())
	}
	// The route without the trailing slash is the same route.
	if rec, _ := e.do(t, "POST", "/user_request", `{"text":"second"}`, ann); rec.Code != 201 {
		t.Errorf("create without slash = %d", rec.Code)
	}

	tests := []struct {
		name, path, bearer string
		status             int
	}{
		{"owner by id", "/user_request/1", ann, 200},
		{"owner by display id", "/user_request/REQ000001", ann, 200},
		{"owner, lower-case display id", "/user_request/req000001", ann, 200},
		{"another user", "/user_request/1", e.token(t, 4, access.RoleUser), 404},
		{"staff", "/user_request/1", e.token(t, 2, access.RoleStaff), 200},
		{"admin", "/user_request/1", e.token(t, 1, access.RoleAdmin), 200},
		{"missing", "/user_request/99", ann, 404},
		{"bad id", "/user_request/abc", ann, 422},
		{"zero id", "/user_request/0", ann, 422},
		{"no token", "/user_request/1", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := e.do(t, "GET", tt.path, "", tt.bearer)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %v", rec.Code, tt.status, body)
			}
			if tt.status == 200 && body["id"] != float64(1) {
				t.Errorf("body = %v", body)
			}
			if tt.status != 200 && body["detail"] == "" {
				t.Errorf("error without detail: %v", body)
			}
		})
	}

	rows, err := e.pool.Query(context.Background(), "SELECT event FROM tickets.outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for rows.Next() {
		var ev events.Event
		if err := rows.Scan(&ev); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if len(evs) != 2 || evs[0].Type != events.TypeTicketCreated || evs[0].Subject != "REQ000001" || evs[0].ActorID != "3" || evs[0].ActorRole != "user" {
		t.Fatalf("outbox = %+v", evs)
	}
	var data events.TicketCreated
	if err := evs[0].DecodeData(&data); err != nil || data.Before != nil || data.After.Text != "My printer is on fire" {
		t.Errorf("event data = %+v, %v", data, err)
	}
}

func TestCreateRejections(t *testing.T) {
	e := setup(t)
	ann := e.token(t, 3, access.RoleUser)
	tests := []struct {
		name, body, bearer string
		status             int
	}{
		{"missing text", `{}`, ann, 422},
		{"null text", `{"text":null}`, ann, 422},
		{"blank text", `{"text":"   "}`, ann, 422},
		{"text too long", `{"text":"` + strings.Repeat("x", 5001) + `"}`, ann, 422},
		{"bad priority", `{"text":"x","priority":"asap"}`, ann, 422},
		{"unknown field", `{"text":"x","status":"closed"}`, ann, 422},
		{"staff may not create", `{"text":"x"}`, e.token(t, 2, access.RoleStaff), 403},
		{"no token", `{"text":"x"}`, "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, body := e.do(t, "POST", "/user_request/", tt.body, tt.bearer)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d: %v", rec.Code, tt.status, body)
			}
		})
	}
	if n := pgtest.Count(t, e.pool, "SELECT count(*) FROM tickets.requests"); n != 0 {
		t.Errorf("%d tickets written by rejected requests", n)
	}
	if n := pgtest.Count(t, e.pool, "SELECT count(*) FROM tickets.outbox"); n != 0 {
		t.Errorf("%d events written by rejected requests", n)
	}
}
