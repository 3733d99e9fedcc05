package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"
)

// TestAccountFlows drives the auth calls of the contract through the gateway.
func TestAccountFlows(t *testing.T) {
	s := startSystem(t)
	admin := s.login(adminEmail, adminPassword)

	// Validation: each rejection names its field and writes nothing.
	for _, c := range []struct {
		body   map[string]any
		status int
		field  string
	}{
		{map[string]any{"email": "kim@example.com", "password": "password"}, 400, "password"},
		{map[string]any{"email": "kim@example.com", "password": "Password123"}, 400, "password"},
		{map[string]any{"email": "kim@example", "password": "K1mPassw0rdX"}, 422, "email"},
		{map[string]any{"email": "kim@example.com", "password": "K1mPassw0rdX", "inn": "123"}, 422, "inn"},
		{map[string]any{"email": "kim@example.com", "password": "K1mPassw0rdX", "phone": "call me"}, 422, "phone"},
		{map[string]any{"email": "kim@example.com", "password": "K1mPassw0rdX", "birth_date": "2999-01-01"}, 422, "birth_date"},
	} {
		_, p := s.json(c.status, "POST", "/auth/register", "", c.body)
		errs, _ := p["errors"].([]any)
		if len(errs) == 0 || errs[0].(map[string]any)["field"] != c.field {
			t.Errorf("register %v: errors %v, want field %s", c.body, p["errors"], c.field)
		}
	}
	s.json(401, "POST", "/auth/login", "", map[string]string{"email": "kim@example.com", "password": "K1mPassw0rdX"})
	_, u := s.json(201, "POST", "/auth/register", "", map[string]any{"email": "Kim@Example.com", "password": "K1mPassw0rdX", "phone": "+7-900-123-4567"})
	if _, p := s.json(400, "POST", "/auth/register", "", map[string]any{"email": "KIM@example.com", "password": "K1mPassw0rdX"}); p["detail"] != "Email already registered" {
		t.Errorf("duplicate = %v", p)
	}

	// Refresh rotates; a reused refresh token revokes its family.
	_, first := s.json(200, "POST", "/auth/login", "", map[string]string{"email": "kim@example.com", "password": "K1mPassw0rdX"})
	_, second := s.json(200, "POST", "/auth/refresh", "", map[string]string{"refresh_token": first["refresh_token"].(string)})
	s.json(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": first["refresh_token"].(string)})
	s.json(401, "POST", "/auth/refresh", "", map[string]string{"refresh_token": second["refresh_token"].(string)})

	kim := s.login("kim@example.com", "K1mPassw0rdX")
	if _, v := s.json(200, "POST", "/auth/verify-token", kim, nil); v["valid"] != true || v["user_id"] != u["id"] || v["role"] != "user" {
		t.Errorf("verify-token = %v", v)
	}
	if _, p := s.json(200, "PUT", "/auth/profile", kim, map[string]any{"first_name": "Kim", "phone": nil}); p["first_name"] != "Kim" || p["phone"] != nil || p["email"] != "kim@example.com" {
		t.Errorf("profile update = %v", p)
	}
	s.json(422, "PUT", "/auth/profile", kim, map[string]any{"role": "admin"})

	// User management.
	_, staff := s.json(201, "POST", "/staff/register", admin, map[string]any{"email": "desk@company.com", "password": "D3skPassw0rdX"})
	s.json(403, "POST", "/admin/register", kim, map[string]any{"email": "evil@example.com", "password": "Ev1lPassw0rdX"})
	if _, a := s.json(201, "POST", "/admin/register", admin, map[string]any{"email": "chief@company.com", "password": "Ch1efPassw0rdX"}); a["role"] != "admin" {
		t.Errorf("admin register = %v", a)
	}
	if _, page := s.json(200, "GET", "/admin/users?size=1", admin, nil); page["total"] != float64(2) || page["pages"] != float64(2) {
		t.Errorf("users = %v", page)
	}
	if _, page := s.json(200, "GET", "/admin/staff", admin, nil); page["total"] != float64(2) {
		t.Errorf("staff = %v", page)
	}
	s.json(422, "GET", "/admin/users?size=0", admin, nil)
	s.json(200, "DELETE", "/admin/staff/"+staff["display_id"].(string), admin, nil)
	s.json(404, "DELETE", "/admin/users/"+staff["display_id"].(string), admin, nil)

	// Throttling: after five failures (the login before kim registered was
	// the first), the account answers 429 for a while.
	for range 4 {
		s.json(401, "POST", "/auth/login", "", map[string]string{"email": "kim@example.com", "password": "Wr0ngPassw0rdX"})
	}
	resp, _ := s.json(429, "POST", "/auth/login", "", map[string]string{"email": "kim@example.com", "password": "K1mPassw0rdX"})
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
}

// TestSeedPasswordHashes logs in a user whose password the original stored
// as bcrypt: it works, and the hash is upgraded to argon2id.
func TestSeedPasswordHashes(t *testing.T) {
	s := startSystem(t)
	hash, err := bcrypt.GenerateFromPassword([]byte("S33dUserPassw0rd"), bcrypt.DefaultCost)
	if err != nil {
		t.Fatal(err)
	}
	seedHash := "$2b$" + string(hash[4:]) // Python's bcrypt writes $2b$
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, s.databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `INSERT INTO auth.users (email, password_hash, role) VALUES ('seed@example.com', $1, 'user')`, seedHash); err != nil {
		t.Fatal(err)
	}
	s.json(401, "POST", "/auth/login", "", map[string]string{"email": "seed@example.com", "password": "Wr0ngPassw0rd"})
	s.login("seed@example.com", "S33dUserPassw0rd")
	var stored string
	if err := conn.QueryRow(ctx, `SELECT password_hash FROM auth.users WHERE email = 'seed@example.com'`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "$argon2id$") {
		t.Errorf("hash after login = %.10s..., want an argon2id hash", stored)
	}
	s.login("seed@example.com", "S33dUserPassw0rd")
}
