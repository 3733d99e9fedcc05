package revoke_test

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/supportdesk/supportdesk/pkg/bus"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/natstest"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/services/gateway/internal/revoke"
)

func claims(user int64, session string) token.Claims {
	return token.Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: strconv.FormatInt(user, 10)}, SessionID: session}
}

func userEvent(t *testing.T, typ string, data any) events.Event {
	t.Helper()
	ev, err := events.New(context.Background(), events.SourceAuth, typ, "USR000001", events.Actor{}, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestFollowRevokesWithinASecond(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	nc, js, err := bus.Connect(natstest.Start(t), "revoke-test")
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := bus.EnsureStream(ctx, js, bus.DefaultStream()); err != nil {
		t.Fatal(err)
	}
	pub := bus.NewPublisher(js)

	// Published before the gateway starts: a restarted gateway must know it.
	if err := pub.Publish(ctx, userEvent(t, events.TypeUserLoggedOut, events.UserSecurity{
		Revoke: &events.Revocation{UserID: 1, SessionIDs: []string{"old-session"}}})); err != nil {
		t.Fatal(err)
	}

	l := revoke.NewList(30 * time.Minute)
	if err := revoke.Follow(ctx, js, bus.StreamName, l, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	waitRevoked(t, l, claims(1, "old-session"))

	if l.Revoked(claims(2, "s2")) || l.Revoked(claims(1, "other")) {
		t.Fatal("unrelated sessions are revoked")
	}
	if err := pub.Publish(ctx, userEvent(t, events.TypeUserDeleted, events.UserChanged{
		Revoke: &events.Revocation{UserID: 2, AllSessions: true}})); err != nil {
		t.Fatal(err)
	}
	waitRevoked(t, l, claims(2, "s2"))
	waitRevoked(t, l, claims(2, ""))
	if l.Revoked(claims(1, "other")) {
		t.Error("a user-wide revocation leaked to another user")
	}
}

func waitRevoked(t *testing.T, l *revoke.List, c token.Claims) {
	t.Helper()
	deadline := time.Now().Add(time.Second)
	for !l.Revoked(c) {
		if time.Now().After(deadline) {
			t.Fatalf("session %q of user %s not revoked within a second", c.SessionID, c.Subject)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestExpiredRevocationsAreIgnored(t *testing.T) {
	l := revoke.NewList(time.Minute)
	ev := userEvent(t, events.TypeUserLoggedOut, events.UserSecurity{Revoke: &events.Revocation{UserID: 1, SessionIDs: []string{"s"}}})
	ev.Time = time.Now().Add(-2 * time.Minute) // every token of it has expired
	if err := l.Apply(ev); err != nil {
		t.Fatal(err)
	}
	if l.Revoked(claims(1, "s")) {
		t.Error("kept a revocation older than a token lifetime")
	}
	if err := l.Apply(userEvent(t, events.TypeUserRegistered, events.UserRegistered{})); err != nil {
		t.Errorf("an event without revocation: %v", err)
	}
}
