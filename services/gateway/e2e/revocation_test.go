package e2e

import (
	"testing"
	"time"
)

// TestRevocation checks that the gateway refuses the access tokens of a
// session within a second of its logout, and those of the other sessions of
// a user within a second of a password change, while the session that made
// the change goes on.
func TestRevocation(t *testing.T) {
	s := startSystem(t)
	s.json(201, "POST", "/auth/register", "", map[string]any{"email": "holder@example.com", "password": "R3vokePassw0rd"})

	stillWorks := func(tok string) bool {
		resp, _ := s.call("GET", "/auth/profile", tok, nil)
		return resp.StatusCode == 200
	}
	refused := func(tok string) func() bool {
		return func() bool {
			resp, _ := s.call("GET", "/auth/profile", tok, nil)
			return resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "Bearer"
		}
	}

	// Logout kills the session's access token, not the user's other sessions.
	a := s.login("holder@example.com", "R3vokePassw0rd")
	b := s.login("holder@example.com", "R3vokePassw0rd")
	if resp, body := s.call("POST", "/auth/logout", a, nil); resp.StatusCode != 204 {
		t.Fatalf("logout = %d %s", resp.StatusCode, body)
	}
	s.waitFor("the logged-out token refused", time.Second, refused(a))
	if !stillWorks(b) {
		t.Fatal("logout of one session killed another")
	}

	// A password change kills every other session.
	c := s.login("holder@example.com", "R3vokePassw0rd")
	s.json(200, "POST", "/auth/change-password", c, map[string]string{
		"current_password": "R3vokePassw0rd", "new_password": "N3wRevokePassw0rd",
	})
	s.waitFor("the other session's token refused", time.Second, refused(b))
	if !stillWorks(c) {
		t.Error("the session that changed the password was killed")
	}
	if d := s.login("holder@example.com", "N3wRevokePassw0rd"); !stillWorks(d) {
		t.Error("a new login after the change is refused")
	}
}
