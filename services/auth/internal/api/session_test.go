package api_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

// registerAndLogin creates a user and returns its login answer.
func (e env) registerAndLogin(t *testing.T, email, password string) map[string]any {
	t.Helper()
	if status, body := e.do(t, "POST", "/auth/register", `{"email":"`+email+`","password":"`+password+`"}`, ""); status != 201 {
		t.Fatalf("register = %d %v", status, body)
	}
	status, s := e.do(t, "POST", "/auth/login", `{"email":"`+email+`","password":"`+password+`"}`, "")
	if status != 200 {
		t.Fatalf("login = %d %v", status, s)
	}
	return s
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	e := setup(t)
	s := e.registerAndLogin(t, "carol@example.com", "Str0ngPassw0rd")
	first := s["refresh_token"].(string)

	status, s2 := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+first+`"}`, "")
	if status != 200 || s2["refresh_token"] == first || s2["access_token"] == "" {
		t.Fatalf("refresh = %d %v", status, s2)
	}
	second := s2["refresh_token"].(string)

	// The query parameter form of the seed still works.
	status, s3 := e.do(t, "POST", "/auth/refresh?refresh_token="+second, "", "")
	if status != 200 {
		t.Fatalf("refresh by query = %d %v", status, s3)
	}
	third := s3["refresh_token"].(string)

	// Presenting the first token again is theft: the family dies.
	if status, p := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+first+`"}`, ""); status != 401 || p["code"] != "refresh_token_reused" {
		t.Errorf("reuse = %d %v", status, p)
	}
	if status, _ := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+third+`"}`, ""); status != 401 {
		t.Errorf("a token of the revoked family still works: %d", status)
	}
	if status, _ := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"made-up"}`, ""); status != 401 {
		t.Errorf("unknown token = %d", status)
	}
	if status, _ := e.do(t, "POST", "/auth/refresh", `{}`, ""); status != 422 {
		t.Errorf("missing token = %d", status)
	}
	types := e.outboxTypes(t)
	if types[len(types)-1] != "support.user.refresh_reuse_detected.v1" {
		t.Errorf("outbox = %v", types)
	}
}

func TestLogoutAndVerify(t *testing.T) {
	e := setup(t)
	s := e.registerAndLogin(t, "dan@example.com", "Str0ngPassw0rd")
	access := s["access_token"].(string)

	status, v := e.do(t, "POST", "/auth/verify-token", "", access)
	if status != 200 || v["valid"] != true || v["email"] != "dan@example.com" || v["role"] != "user" {
		t.Errorf("verify = %d %v", status, v)
	}
	if status, _ := e.do(t, "POST", "/auth/logout", `{"refresh_token":"`+s["refresh_token"].(string)+`"}`, access); status != 204 {
		t.Fatalf("logout = %d", status)
	}
	if status, _ := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+s["refresh_token"].(string)+`"}`, ""); status != 401 {
		t.Errorf("refresh after logout = %d", status)
	}
	var revoke map[string]any
	if err := e.pool.QueryRow(t.Context(), `SELECT event->'data'->'revoke' FROM auth.outbox WHERE event->>'type' = 'support.user.logged_out.v1'`).Scan(&revoke); err != nil {
		t.Fatal(err)
	}
	if sessions, _ := revoke["session_ids"].([]any); revoke["user_id"] != float64(1) || len(sessions) != 1 || sessions[0] == "" {
		t.Errorf("logout revocation = %v", revoke)
	}
	if status, _ := e.do(t, "POST", "/auth/logout", "", ""); status != 401 {
		t.Errorf("logout without token = %d", status)
	}
}

func TestUpdateProfile(t *testing.T) {
	e := setup(t)
	s := e.registerAndLogin(t, "erin@example.com", "Str0ngPassw0rd")
	tok := s["access_token"].(string)

	status, u := e.do(t, "PUT", "/auth/profile", `{"first_name":"Erin","phone":"+1 (555) 123-4567","inn":"1234567890"}`, tok)
	if status != 200 || u["first_name"] != "Erin" || u["phone"] != "+15551234567" || u["inn"] != "1234567890" {
		t.Fatalf("update = %d %v", status, u)
	}
	// null clears, absent keeps.
	status, u = e.do(t, "PUT", "/auth/profile", `{"phone":null}`, tok)
	if status != 200 || u["phone"] != nil || u["first_name"] != "Erin" {
		t.Errorf("clear phone = %d %v", status, u)
	}
	before := pgtest.Count(t, e.pool, "SELECT count(*) FROM auth.outbox")
	for name, body := range map[string]string{
		"email":   `{"email":"x@example.com"}`,
		"role":    `{"role":"admin"}`,
		"bad inn": `{"first_name":"New","inn":"12"}`,
		"number":  `{"first_name":5}`,
		"unknown": `{"nickname":"e"}`,
	} {
		t.Run(name, func(t *testing.T) {
			if status, p := e.do(t, "PUT", "/auth/profile", body, tok); status != 422 {
				t.Errorf("= %d %v", status, p)
			}
		})
	}
	_, prof := e.do(t, "GET", "/auth/profile", "", tok)
	if prof["first_name"] != "Erin" || prof["email"] != "erin@example.com" || prof["role"] != "user" {
		t.Errorf("a rejected update changed the profile: %v", prof)
	}
	if after := pgtest.Count(t, e.pool, "SELECT count(*) FROM auth.outbox"); after != before {
		t.Errorf("rejected updates wrote %d events", after-before)
	}
}

func TestChangePassword(t *testing.T) {
	e := setup(t)
	s := e.registerAndLogin(t, "fay@example.com", "Str0ngPassw0rd")
	tok := s["access_token"].(string)
	_, otherSession := e.do(t, "POST", "/auth/login", `{"email":"fay@example.com","password":"Str0ngPassw0rd"}`, "")

	for _, c := range []struct {
		name, body, code string
	}{
		{"wrong current", `{"current_password":"Wr0ngPassw0rd","new_password":"N3wPassw0rdX"}`, "wrong_password"},
		{"same", `{"current_password":"Str0ngPassw0rd","new_password":"Str0ngPassw0rd"}`, "same_password"},
		{"weak", `{"current_password":"Str0ngPassw0rd","new_password":"weak"}`, "weak_password"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if status, p := e.do(t, "POST", "/auth/change-password", c.body, tok); status != 400 || p["code"] != c.code {
				t.Errorf("= %d %v", status, p)
			}
		})
	}
	status, m := e.do(t, "POST", "/auth/change-password", `{"current_password":"Str0ngPassw0rd","new_password":"N3wPassw0rdX"}`, tok)
	if status != 200 || !cmp.Equal(m, map[string]any{"message": "Password changed successfully"}) {
		t.Fatalf("change = %d %v", status, m)
	}
	// Every other session dies; the one the change was made in goes on.
	if status, _ := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+otherSession["refresh_token"].(string)+`"}`, ""); status != 401 {
		t.Errorf("other session's refresh = %d", status)
	}
	if status, _ := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+s["refresh_token"].(string)+`"}`, ""); status != 200 {
		t.Errorf("current session's refresh = %d", status)
	}
	var revoked []string
	if err := e.pool.QueryRow(t.Context(), `SELECT array(SELECT jsonb_array_elements_text(event->'data'->'revoke'->'session_ids'))
		FROM auth.outbox WHERE event->>'type' = 'support.user.password_changed.v1'`).Scan(&revoked); err != nil {
		t.Fatal(err)
	}
	if len(revoked) != 1 {
		t.Errorf("password change revoked sessions %v, want exactly the other one", revoked)
	}
	if status, _ := e.do(t, "POST", "/auth/login", `{"email":"fay@example.com","password":"Str0ngPassw0rd"}`, ""); status != 401 {
		t.Errorf("old password still logs in: %d", status)
	}
	if status, _ := e.do(t, "POST", "/auth/login", `{"email":"fay@example.com","password":"N3wPassw0rdX"}`, ""); status != 200 {
		t.Errorf("new password = %d", status)
	}
	types := e.outboxTypes(t)
	if !contains(types, "support.user.password_changed.v1") || !contains(types, "support.user.login_failed.v1") || !contains(types, "support.user.logged_in.v1") {
		t.Errorf("outbox = %v", types)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// loginFrom logs in as the client at addr and returns the status.
func (e *env) loginFrom(t *testing.T, email, password, addr string) int {
	t.Helper()
	req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"email":"`+email+`","password":"`+password+`"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", addr)
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	if rec.Code == 429 && (rec.Header().Get("Retry-After") == "" || rec.Header().Get("Content-Type") != "application/problem+json") {
		t.Errorf("429 without Retry-After or problem+json: %v", rec.Header())
	}
	return rec.Code
}

func TestLoginThrottling(t *testing.T) {
	e := setup(t)
	e.registerAndLogin(t, "hal@example.com", "Str0ngPassw0rd")
	const attacker, owner = "203.0.113.66", "198.51.100.7"
	for i := range user.PairBurst {
		if status := e.loginFrom(t, "hal@example.com", "Wr0ngPassw0rd", attacker); status != 401 {
			t.Fatalf("failure %d = %d, want 401", i+1, status)
		}
	}
	if status := e.loginFrom(t, "hal@example.com", "Str0ngPassw0rd", attacker); status != 429 {
		t.Errorf("sixth attempt from the guessing address = %d, want 429", status)
	}
	// The guesser does not lock the owner out.
	if status := e.loginFrom(t, "hal@example.com", "Str0ngPassw0rd", owner); status != 200 {
		t.Errorf("the owner's login from another address = %d, want 200", status)
	}
	// Another account from another address is not affected.
	e.registerAndLogin(t, "ida@example.com", "Str0ngPassw0rd")
}

func TestAccountThrottlingAcrossAddresses(t *testing.T) {
	e := setup(t)
	e.registerAndLogin(t, "kim@example.com", "Str0ngPassw0rd")
	// Many addresses, each under its own bound, together reach the looser
	// bound of the account.
	for i := range user.AccountBurst {
		addr := fmt.Sprintf("203.0.113.%d", i/(user.PairBurst-1)+1)
		if status := e.loginFrom(t, "kim@example.com", "Wr0ngPassw0rd", addr); status != 401 {
			t.Fatalf("failure %d from %s = %d, want 401", i+1, addr, status)
		}
	}
	if status := e.loginFrom(t, "kim@example.com", "Str0ngPassw0rd", "198.51.100.99"); status != 429 {
		t.Errorf("login after %d failures from many addresses = %d, want 429", user.AccountBurst, status)
	}
}

func TestFailedLoginIsNoActOfTheAccount(t *testing.T) {
	e := setup(t)
	e.registerAndLogin(t, "lee@example.com", "Str0ngPassw0rd")
	e.loginFrom(t, "lee@example.com", "Wr0ngPassw0rd", "203.0.113.5")
	var actor, ip, userID, subject string
	if err := e.pool.QueryRow(t.Context(), `SELECT coalesce(event->>'actorid', ''), event->'data'->>'ip_address', event->'data'->>'user_id', event->>'subject'
		FROM auth.outbox WHERE event->>'type' = 'support.user.login_failed.v1'`).Scan(&actor, &ip, &userID, &subject); err != nil {
		t.Fatal(err)
	}
	if actor != "" || ip != "203.0.113.5" || userID == "" || subject == "" {
		t.Errorf("login_failed: actor %q, ip %q, user_id %q, subject %q; want no actor, the client's address and the account tried", actor, ip, userID, subject)
	}
	var okIP string
	if err := e.pool.QueryRow(t.Context(), `SELECT event->'data'->>'ip_address' FROM auth.outbox
		WHERE event->>'type' = 'support.user.logged_in.v1' ORDER BY seq DESC LIMIT 1`).Scan(&okIP); err != nil {
		t.Fatal(err)
	}
	if okIP == "" {
		t.Error("logged_in carries no client address")
	}
}

func TestChangePasswordThrottling(t *testing.T) {
	e := setup(t)
	s := e.registerAndLogin(t, "max@example.com", "Str0ngPassw0rd")
	tok := s["access_token"].(string)
	for i := range user.PasswordCheckBurst {
		if status, p := e.do(t, "POST", "/auth/change-password", `{"current_password":"Wr0ngPassw0rd","new_password":"N3wPassw0rdX"}`, tok); status != 400 {
			t.Fatalf("guess %d = %d %v, want 400", i+1, status, p)
		}
	}
	status, p := e.do(t, "POST", "/auth/change-password", `{"current_password":"Str0ngPassw0rd","new_password":"N3wPassw0rdX"}`, tok)
	if status != 429 || p["code"] != "too_many_attempts" {
		t.Errorf("change after %d wrong guesses = %d %v, want 429 too_many_attempts", user.PasswordCheckBurst, status, p)
	}
}

func TestClientThrottling(t *testing.T) {
	e := setup(t)
	login := func(email string) int {
		req := httptest.NewRequest("POST", "/auth/login", strings.NewReader(`{"email":"`+email+`","password":"Wr0ngPassw0rd"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Forwarded-For", "203.0.113.7")
		rec := httptest.NewRecorder()
		e.engine.ServeHTTP(rec, req)
		return rec.Code
	}
	// One client spraying many accounts is stopped by the per-address limit.
	for i := range 20 {
		if status := login(fmt.Sprintf("spray%d@example.com", i)); status != 401 {
			t.Fatalf("attempt %d = %d", i+1, status)
		}
	}
	if status := login("spray99@example.com"); status != 429 {
		t.Errorf("21st attempt from one address = %d, want 429", status)
	}
}

// TestEventsCarryNoSecrets runs every flow that emits events and checks
// that no event holds a password, a hash or a token.
func TestEventsCarryNoSecrets(t *testing.T) {
	e := setup(t)
	s := e.registerAndLogin(t, "jo@example.com", "Str0ngPassw0rd")
	access, refresh := s["access_token"].(string), s["refresh_token"].(string)
	e.do(t, "POST", "/auth/login", `{"email":"jo@example.com","password":"Wr0ngPassw0rd"}`, "")
	e.do(t, "PUT", "/auth/profile", `{"first_name":"Jo"}`, access)
	_, s2 := e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+refresh+`"}`, "")
	e.do(t, "POST", "/auth/refresh", `{"refresh_token":"`+refresh+`"}`, "") // reuse
	e.do(t, "POST", "/auth/change-password", `{"current_password":"Str0ngPassw0rd","new_password":"N3wPassw0rdX"}`, access)
	e.do(t, "POST", "/auth/logout", `{"refresh_token":"`+refresh+`"}`, access)

	rows, err := e.pool.Query(t.Context(), "SELECT event::text FROM auth.outbox")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var raw string
		if err := rows.Scan(&raw); err != nil {
			t.Fatal(err)
		}
		n++
		for _, secret := range []string{"Str0ngPassw0rd", "Wr0ngPassw0rd", "N3wPassw0rdX", "$argon2id$", "$2b$", access, refresh, s2["refresh_token"].(string), s2["access_token"].(string)} {
			if strings.Contains(raw, secret) {
				t.Errorf("event holds a secret (%.12s...): %s", secret, raw)
			}
		}
	}
	if n < 7 {
		t.Errorf("only %d events; the flows should have emitted at least 7", n)
	}
}
