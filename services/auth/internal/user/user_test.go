package user_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

func TestDisplayID(t *testing.T) {
	for id, want := range map[int64]string{1: "USR000001", 123456: "USR123456", 1234567: "USR1234567"} {
		if got := user.DisplayID(id); got != want {
			t.Errorf("DisplayID(%d) = %q, want %q", id, got, want)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"  Admin@Company.COM ", "admin@company.com", true},
		{"", "", false},
		{"no-at-sign", "", false},
		{"a@b", "", false},
		{"Bob <bob@x.com>", "", false},
		{strings.Repeat("a", 250) + "@x.com", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, fe := user.NormalizeEmail(tt.in)
			if (fe == nil) != tt.ok || got != tt.want {
				t.Errorf("NormalizeEmail(%q) = %q, %v", tt.in, got, fe)
			}
		})
	}
}

func TestCheckPassword(t *testing.T) {
	tests := []struct {
		name, password string
		ok             bool
	}{
		{"seed example", "SecureUserPass123!", true},
		{"short", "Ab1", false},
		{"no upper", "securepass123", false},
		{"no lower", "SECUREPASS123", false},
		{"no digit", "SecurePassword", false},
		{"too long", "Aa1" + strings.Repeat("x", 130), false},
		{"contains the email's local part", "Johnsmith123", false},
		{"common password", "Password123", false},
		{"common password, other case", "QWERTY123", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := user.CheckPassword(tt.password, "johnsmith@example.com")
			if (err == nil) != tt.ok {
				t.Fatalf("CheckPassword = %v", err)
			}
			if err != nil && (fault.KindOf(err) != fault.Invalid || !strings.HasPrefix(err.Error(), "Password validation failed: ")) {
				t.Errorf("error = %v (kind %v), want the contract's 400 message", err, fault.KindOf(err))
			}
		})
	}
}

func TestPhoneAndINN(t *testing.T) {
	if got, fe := user.NormalizePhone("+7-900-123-4567"); fe != nil || got != "+79001234567" {
		t.Errorf("bootstrap phone = %q, %v", got, fe)
	}
	if got, fe := user.NormalizePhone("(900) 123 45 67"); fe != nil || got != "9001234567" {
		t.Errorf("phone = %q, %v", got, fe)
	}
	for _, bad := range []string{"123", "+0123456789", "phone", "+7 900 123 4567 8901 23"} {
		if _, fe := user.NormalizePhone(bad); fe == nil {
			t.Errorf("phone %q accepted", bad)
		}
	}
	for _, good := range []string{"1234567890", "123456789012"} {
		if _, fe := user.NormalizeINN(good); fe != nil {
			t.Errorf("INN %q refused", good)
		}
	}
	for _, bad := range []string{"12345678901", "12345abcde", ""} {
		if _, fe := user.NormalizeINN(bad); fe == nil {
			t.Errorf("INN %q accepted", bad)
		}
	}
}

func TestParseBirthDate(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	if _, fe := user.ParseBirthDate("1990-05-01", now); fe != nil {
		t.Error(fe)
	}
	for _, bad := range []string{"2027-01-01", "01.05.1990", "1990-13-01"} {
		if _, fe := user.ParseBirthDate(bad, now); fe == nil {
			t.Errorf("birth date %q accepted", bad)
		}
	}
}

func TestPasswordHashing(t *testing.T) {
	hash, err := user.HashPassword("SecureUserPass123!")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$") {
		t.Errorf("hash %q is not an argon2id PHC string", hash)
	}
	if ok, rehash, err := user.VerifyPassword(hash, "SecureUserPass123!"); !ok || rehash || err != nil {
		t.Errorf("argon2id verify = %v, %v, %v", ok, rehash, err)
	}
	if ok, _, _ := user.VerifyPassword(hash, "wrong"); ok {
		t.Error("wrong password verified")
	}

	// A hash made with earlier parameters (19 MiB, 2 passes) verifies and
	// is upgraded; a wrong password upgrades nothing.
	salt := []byte("0123456789abcdef")
	b64 := base64.RawStdEncoding
	older := fmt.Sprintf("$argon2id$v=19$m=19456,t=2,p=1$%s$%s", b64.EncodeToString(salt),
		b64.EncodeToString(argon2.IDKey([]byte("SecureUserPass123!"), salt, 2, 19456, 1, 32)))
	if ok, rehash, err := user.VerifyPassword(older, "SecureUserPass123!"); !ok || !rehash || err != nil {
		t.Errorf("argon2id with older parameters = %v, %v, %v; want ok and rehash", ok, rehash, err)
	}
	if ok, rehash, err := user.VerifyPassword(older, "wrong"); ok || rehash || err != nil {
		t.Errorf("wrong password against older parameters = %v, %v, %v", ok, rehash, err)
	}

	legacy, err := bcrypt.GenerateFromPassword([]byte("SecureUserPass123!"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	seedHash := "$2b$" + string(legacy[4:]) // as Python's bcrypt writes it
	if ok, rehash, err := user.VerifyPassword(seedHash, "SecureUserPass123!"); !ok || !rehash || err != nil {
		t.Errorf("bcrypt verify = %v, %v, %v; want ok and rehash", ok, rehash, err)
	}
	if ok, _, err := user.VerifyPassword(seedHash, "wrong"); ok || err != nil {
		t.Errorf("wrong bcrypt password = %v, %v", ok, err)
	}
	if _, _, err := user.VerifyPassword("plaintext", "x"); err == nil {
		t.Error("unknown hash format accepted")
	}
}
