package token

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/supportdesk/supportdesk/pkg/access"
)

func TestVerifyRemembersUntilExpiry(t *testing.T) {
	m := NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	raw, _, err := m.Issue(7, access.RoleStaff, "s1")
	if err != nil {
		t.Fatal(err)
	}
	first, err := m.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := m.verified[raw]; !ok {
		t.Fatal("a verified token is not remembered")
	}
	again, err := m.Verify(raw)
	if err != nil || again.UserID() != first.UserID() || again.SessionID != "s1" {
		t.Fatalf("second Verify = %+v, %v", again, err)
	}

	// A remembered token past its expiry is checked in full again, and
	// refused: the memory never outlives the token.
	expired := first
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	m.verified["not-a-token"] = expired
	if _, err := m.Verify("not-a-token"); err == nil {
		t.Error("an expired remembered token was accepted")
	}

	// The memory is bounded.
	for i := range verifiedMax + 1 {
		tok, _, err := m.Issue(int64(i+1), access.RoleUser, "s")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := m.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
	if len(m.verified) > verifiedMax {
		t.Errorf("%d tokens remembered, want at most %d", len(m.verified), verifiedMax)
	}
}
