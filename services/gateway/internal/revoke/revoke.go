// Package revoke keeps the gateway's in-memory view of revoked sessions, fed
// by auth's support.user.* events, so that a logged-out, re-passworded or
// deleted user's access tokens are refused without a database call per
// request.
package revoke

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// List is the set of revoked sessions and users. An entry is kept for one
// access-token lifetime after its event: by then every token it concerns
// has expired anyway.
type List struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.RWMutex
	sessions map[string]time.Time // session id -> forget after
	users    map[int64]time.Time  // user whose every session died -> forget after
}

// NewList returns an empty List for tokens that live ttl.
func NewList(ttl time.Duration) *List {
	return &List{ttl: ttl, now: time.Now, sessions: map[string]time.Time{}, users: map[int64]time.Time{}}
}

// Revoked reports whether the token's session or user was revoked.
func (l *List) Revoked(c token.Claims) bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	_, user := l.users[c.UserID()]
	_, session := l.sessions[c.SessionID]
	return user || (c.SessionID != "" && session)
}

// Apply records the revocation an event carries, if any.
func (l *List) Apply(ev events.Event) error {
	var data struct {
		Revoke *events.Revocation `json:"revoke"`
	}
	if err := json.Unmarshal(ev.Data, &data); err != nil {
		return fmt.Errorf("event %s: %w", ev.ID, err)
	}
	if data.Revoke == nil {
		return nil
	}
	forget := ev.Time.Add(l.ttl)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.prune(now)
	if !forget.After(now) {
		return nil
	}
	if data.Revoke.AllSessions {
		l.users[data.Revoke.UserID] = forget
	}
	for _, s := range data.Revoke.SessionIDs {
		l.sessions[s] = forget
	}
	return nil
}

func (l *List) prune(now time.Time) {
	for k, t := range l.sessions {
		if !t.After(now) {
			delete(l.sessions, k)
		}
	}
	for k, t := range l.users {
		if !t.After(now) {
			delete(l.users, k)
		}
	}
}

// Follow feeds l from the stream's support.user.> events, starting one
// token lifetime back so that a restarted gateway knows every revocation
// that still matters. Each gateway replica follows with its own ordered
// consumer. It returns once the consumer runs; cancel ctx to stop it.
func Follow(ctx context.Context, js jetstream.JetStream, stream string, l *List, logger *slog.Logger) error {
	start := l.now().Add(-l.ttl)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"support.user.>"},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &start,
	})
	if err != nil {
		return fmt.Errorf("revocation consumer: %w", err)
	}
	cc, err := cons.Consume(func(msg jetstream.Msg) {
		ev, err := events.Decode(msg.Data())
		if err == nil {
			err = l.Apply(ev)
		}
		if err != nil {
			logger.WarnContext(ctx, "revocation: skipping an unreadable user event", "subject", msg.Subject(), "err", err)
		}
	})
	if err != nil {
		return fmt.Errorf("revocation consumer: %w", err)
	}
	go func() {
		<-ctx.Done()
		cc.Stop()
	}()
	return nil
}
