package api_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
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
	// One batch: a ticket created and deleted leaves no live ref; an
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
	if n := pgtest.Count(t, e.pool, `SELECT count(*) FROM auth.ticket_refs WHERE ticket_id IN (11, 12) AND NOT deleted`); n != 1 {
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
	// Each published change counts up the user's version: her registration
	// was 1, the role change 2; a profile change makes 3.
	_, again := e.do(t, "POST", "/auth/login", `{"email":"lea@example.com","password":"Str0ngPassw0rd"}`, "")
	if status, _ := e.do(t, "PUT", "/auth/profile", `{"first_name":"Lea"}`, again["access_token"].(string)); status != 200 {
		t.Fatalf("profile update = %d", status)
	}
	rows, err := e.pool.Query(t.Context(), `SELECT event->>'type', (event->'data'->'before'->>'version')::int, (event->'data'->'after'->>'version')::int
		FROM auth.outbox WHERE event->>'subject' = 'USR000002' AND event->'data' ? 'after' ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for rows.Next() {
		var typ string
		var before, after int
		if err := rows.Scan(&typ, &before, &after); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, fmt.Sprintf("%s %d->%d", strings.TrimPrefix(typ, "support.user."), before, after))
	}
	if want := []string{"role_changed.v1 1->2", "profile_updated.v1 2->3"}; !slices.Equal(versions, want) {
		t.Errorf("versions in the user's events = %q, want %q", versions, want)
	}
	if _, s := e.do(t, "POST", "/auth/login", `{"email":"lea@example.com","password":"Str0ngPassw0rd"}`, ""); s["role"] != "staff" {
		t.Errorf("new login role = %v", s["role"])
	}
}

// Relays may publish a ticket's deletion before its creation: the ticket
// stays deleted, in separate deliveries and within a batch.
func TestTicketOwnersInAnyOrder(t *testing.T) {
	e := setup(t)
	owners := user.NewTicketOwners(postgres.NewStore(e.pool))
	ctx := context.Background()
	ticketEvents := func(id int64) (created, deleted events.Event) {
		tk := events.Ticket{ID: id, OwnerID: 7}
		subject := fmt.Sprintf("REQ%06d", id)
		created, _ = events.New(ctx, events.SourceTickets, events.TypeTicketCreated, subject, events.Actor{}, events.TicketCreated{After: tk})
		deleted, _ = events.New(ctx, events.SourceTickets, events.TypeTicketDeleted, subject, events.Actor{}, map[string]any{"before": tk, "after": nil})
		return created, deleted
	}
	c20, d20 := ticketEvents(20)
	for _, ev := range []events.Event{d20, c20, c20} {
		if err := owners.Apply(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	c21, d21 := ticketEvents(21)
	c22, _ := ticketEvents(22)
	for _, err := range owners.ApplyBatch(ctx, []events.Event{d21, c22, c21}) {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := pgtest.Count(t, e.pool, `SELECT count(*) FROM auth.ticket_refs WHERE owner_id = 7 AND NOT deleted`); n != 1 {
		t.Errorf("user 7 owns %d live tickets, want 1 (22)", n)
	}
}
