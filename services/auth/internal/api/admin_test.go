package api_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/auth/internal/postgres"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

func TestUserManagement(t *testing.T) {
	e := setup(t)
	if err := e.users.Bootstrap(context.Background(), []user.Seed{{Role: access.RoleAdmin, Email: "admin@company.com", Password: "SecureAdminPass123!"}}); err != nil {
		t.Fatal(err)
	}
	_, s := e.do(t, "POST", "/auth/login", `{"email":"admin@company.com","password":"SecureAdminPass123!"}`, "")
	admin := s["access_token"].(string)
	userTok := e.registerAndLogin(t, "gus@example.com", "Str0ngPassw0rd")["access_token"].(string)

	status, staff := e.do(t, "POST", "/staff/register", `{"email":"Helper@Company.com","password":"Sup0rtPassw0rdX"}`, admin)
	if status != 201 || staff["role"] != "staff" || staff["email"] != "helper@company.com" {
		t.Fatalf("staff register = %d %v", status, staff)
	}
	if status, a := e.do(t, "POST", "/admin/register", `{"email":"boss@company.com","password":"B0ssPassw0rdX"}`, admin); status != 201 || a["role"] != "admin" {
		t.Errorf("admin register = %d %v", status, a)
	}
	for _, path := range []string{"/staff/register", "/admin/register"} {
		if status, _ := e.do(t, "POST", path, `{"email":"x@company.com","password":"Xx1Passw0rdX"}`, userTok); status != 403 {
			t.Errorf("user on %s = %d, want 403", path, status)
		}
		if status, _ := e.do(t, "POST", path, `{"email":"x@company.com","password":"Xx1Passw0rdX"}`, ""); status != 401 {
			t.Errorf("anonymous on %s = %d, want 401", path, status)
		}
	}

	for i := range 3 {
		e.registerAndLogin(t, fmt.Sprintf("u%d@example.com", i), "Str0ngPassw0rd")
	}
	status, page := e.do(t, "GET", "/admin/users?size=2&page=2", "", admin)
	items, _ := page["items"].([]any)
	if status != 200 || page["total"] != float64(4) || page["pages"] != float64(2) || len(items) != 2 {
		t.Fatalf("users page = %d %v", status, page)
	}
	if first := items[0].(map[string]any); first["email"] != "u1@example.com" {
		t.Errorf("page 2 starts with %v, want u1 (ordered by id)", first["email"])
	}
	if status, page := e.do(t, "GET", "/admin/staff", "", admin); status != 200 || page["total"] != float64(1) {
		t.Errorf("staff = %d %v", status, page)
	}
	if status, _ := e.do(t, "GET", "/admin/users?size=0", "", admin); status != 422 {
		t.Errorf("size=0 = %d", status)
	}
	if status, _ := e.do(t, "GET", "/admin/users", "", userTok); status != 403 {
		t.Errorf("user lists users: %d", status)
	}

	// A user who owns a ticket stays; once the ticket is gone, they can go.
	gus := int64(2)
	owners := user.NewTicketOwners(postgres.NewStore(e.pool))
	ticket := events.Ticket{ID: 10, OwnerID: gus}
	created, _ := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, "REQ000010", events.Actor{}, events.TicketCreated{After: ticket})
	for range 2 { // redelivery is harmless
		if err := owners.Apply(context.Background(), created); err != nil {
			t.Fatal(err)
		}
	}
	if status, p := e.do(t, "DELETE", "/admin/users/2", "", admin); status != 409 || p["detail"] != "Cannot delete user with existing requests" {
		t.Errorf("delete owner = %d %v", status, p)
	}
	deleted, _ := events.New(context.Background(), events.SourceTickets, events.TypeTicketDeleted, "REQ000010", events.Actor{}, map[string]any{"before": ticket, "after": nil})
	if err := owners.Apply(context.Background(), deleted); err != nil {
		t.Fatal(err)
	}
	// One batch, in order: a ticket created and deleted leaves no ref; an
	// unreadable event fails alone.
	t11, t12 := events.Ticket{ID: 11, OwnerID: 1}, events.Ticket{ID: 12, OwnerID: 1}
	c11, _ := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, "REQ000011", events.Actor{}, events.TicketCreated{After: t11})
	d11, _ := events.New(context.Background(), events.SourceTickets, events.TypeTicketDeleted, "REQ000011", events.Actor{}, map[string]any{"before": t11, "after": nil})
	c12, _ := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, "REQ000012", events.Actor{}, events.TicketCreated{After: t12})
	bad, _ := events.New(context.Background(), events.SourceTickets, events.TypeTicketCreated, "REQ000013", events.Actor{}, map[string]any{"after": nil})
	errs := owners.ApplyBatch(context.Background(), []events.Event{c11, d11, bad, c12})
	if errs[0] != nil || errs[1] != nil || !fault.Is(errs[2], fault.Invalid) || errs[3] != nil {
		t.Errorf("batch outcomes = %v", errs)
	}
	if n := pgtest.Count(t, e.pool, `SELECT count(*) FROM auth.ticket_refs WHERE ticket_id IN (11, 12)`); n != 1 {
		t.Errorf("%d refs of tickets 11 and 12 after the batch, want 1 (12)", n)
	}
	if status, m := e.do(t, "DELETE", "/admin/users/USR000002", "", admin); status != 200 || m["message"] != "User deleted successfully" {
		t.Errorf("delete = %d %v", status, m)
	}
	if status, _ := e.do(t, "GET", "/auth/profile", "", userTok); status != 401 {
		t.Errorf("deleted user's profile = %d, want 401", status)
	}

	staffID := fmt.Sprint(staff["id"])
	if status, _ := e.do(t, "DELETE", "/admin/users/"+staffID, "", admin); status != 404 {
		t.Errorf("staff through /admin/users = %d, want 404", status)
	}
	if status, m := e.do(t, "DELETE", "/admin/staff/"+staffID, "", admin); status != 200 || m["message"] != "Staff member deleted successfully" {
		t.Errorf("delete staff = %d %v", status, m)
	}
	if status, p := e.do(t, "DELETE", "/admin/staff/"+staffID, "", admin); status != 404 || p["detail"] != "Staff member not found" {
		t.Errorf("delete staff twice = %d %v", status, p)
	}
	if n := pgtest.Count(t, e.pool, `SELECT count(*) FROM auth.outbox WHERE event->>'type' = 'support.user.deleted.v1'
		AND (event->'data'->'revoke'->>'all_sessions')::boolean`); n != 2 {
		t.Errorf("%d deletion events revoking every session, want 2", n)
	}
}

func TestChangeRole(t *testing.T) {
	e := setup(t)
	if err := e.users.Bootstrap(context.Background(), []user.Seed{{Role: access.RoleAdmin, Email: "admin@company.com", Password: "SecureAdminPass123!"}}); err != nil {
		t.Fatal(err)
	}
	_, s := e.do(t, "POST", "/auth/login", `{"email":"admin@company.com","password":"SecureAdminPass123!"}`, "")
	admin := s["access_token"].(string)
	lea := e.registerAndLogin(t, "lea@example.com", "Str0ngPassw0rd")

	for name, c := range map[string]struct {
		path, body, bearer string
		status             int
	}{
		"bad role":     {"/admin/users/2/role", `{"role":"root"}`, admin, 422},
		"missing role": {"/admin/users/2/role", `{}`, admin, 422},
		"unknown user": {"/admin/users/99/role", `{"role":"staff"}`, admin, 404},
		"own role":     {"/admin/users/1/role", `{"role":"user"}`, admin, 409},
		"not an admin": {"/admin/users/2/role", `{"role":"admin"}`, lea["access_token"].(string), 403},
		"anonymous":    {"/admin/users/2/role", `{"role":"staff"}`, "", 401},
	} {
		t.Run(name, func(t *testing.T) {
			if status, body := e.do(t, "PUT", c.path, c.body, c.bearer); status != c.status {
				t.Errorf("= %d %v, want %d", status, body, c.status)
			}
		})
	}
	status, u := e.do(t, "PUT", "/admin/users/USR000002/role", `{"role":"staff"}`, admin)
	if status != 200 || u["role"] != "staff" {
		t.Fatalf("change = %d %v", status, u)
	}
	// Her session is over: tokens carry the role, she logs in again.
	if status, _ := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+lea["refresh_token"].(string)+`"}`, ""); status != 401 {
		t.Errorf("old session's refresh = %d", status)
	}
	var revoked int
	if err := e.pool.QueryRow(t.Context(), `SELECT jsonb_array_length(event->'data'->'revoke'->'session_ids')
		FROM auth.outbox WHERE event->>'type' = 'support.user.role_changed.v1'`).Scan(&revoked); err != nil || revoked != 1 {
		t.Errorf("role_changed revokes %d sessions (%v), want her one", revoked, err)
	}
	if _, s := e.do(t, "POST", "/auth/login", `{"email":"lea@example.com","password":"Str0ngPassw0rd"}`, ""); s["role"] != "staff" {
		t.Errorf("new login role = %v", s["role"])
	}
}
