package user_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/services/auth/internal/user"
)

// memStore holds one user; only what Login touches is implemented.
type memStore struct {
	user.Store
	u user.User
}

func (m *memStore) ByEmail(_ context.Context, email string) (user.User, error) {
	if email == m.u.Email {
		return m.u, nil
	}
	return user.User{}, fault.New(fault.NotFound, "user_not_found", "User not found")
}

func (m *memStore) Append(context.Context, ...events.Event) error { return nil }

// BenchmarkLoginFailure compares the two failures a login must not tell
// apart: an unknown email and a wrong password. Both verify one argon2id
// hash, so their ns/op should be within noise of each other.
func BenchmarkLoginFailure(b *testing.B) {
	hash, err := user.HashPassword("Str0ngPassw0rd")
	if err != nil {
		b.Fatal(err)
	}
	store := &memStore{u: user.User{ID: 1, Email: "known@example.com", PasswordHash: hash, Role: access.RoleUser, Active: true}}
	newService := func() *user.Service {
		svc, err := user.NewService(store, token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			b.Fatal(err)
		}
		return svc
	}
	for _, c := range []struct{ name, email string }{{"unknown-email", "nobody@example.com"}, {"wrong-password", "known@example.com"}} {
		b.Run(c.name, func(b *testing.B) {
			var svc *user.Service
			for i := range b.N {
				// A fresh service before the account throttle kicks in keeps
				// the throttle out of the measurement.
				if i%user.PairBurst == 0 {
					b.StopTimer()
					svc = newService()
					b.StartTimer()
				}
				if _, err := svc.Login(context.Background(), c.email, "Wr0ngPassw0rd", "192.0.2.1"); !fault.Is(err, fault.Unauthenticated) {
					b.Fatalf("login %d: %v", i, err)
				}
			}
		})
	}
}
