package user

import (
	"context"
	"fmt"
	"strconv"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/token"
)

func userActor(u User) events.Actor {
	return events.Actor{ID: strconv.FormatInt(u.ID, 10), Role: string(u.Role)}
}

func (s *Service) securityEvent(ctx context.Context, typ, subject string, actor events.Actor, data events.UserSecurity) (events.Event, error) {
	return events.New(ctx, events.SourceAuth, typ, subject, actor, data)
}

// Refresh exchanges a refresh token for a new pair. Each refresh token works
// once; presenting one again revokes every token of its family, since one of
// the two presenters has stolen it.
func (s *Service) Refresh(ctx context.Context, raw string) (Session, error) {
	if raw == "" {
		return Session{}, fault.Fields(fault.FieldError{Field: "refresh_token", Message: "is required"})
	}
	next, refresh, err := s.newRefreshToken(0, "")
	if err != nil {
		return Session{}, err
	}
	old, err := s.store.RotateRefreshToken(ctx, HashRefreshToken(raw), next, func(t RefreshToken) ([]events.Event, error) {
		ev, err := s.securityEvent(ctx, events.TypeUserRefreshReused, DisplayID(t.UserID),
			events.Actor{ID: strconv.FormatInt(t.UserID, 10)},
			events.UserSecurity{UserID: &t.UserID, Reason: "a used refresh token was presented again",
				Revoke: &events.Revocation{UserID: t.UserID, SessionIDs: []string{t.FamilyID}}})
		return []events.Event{ev}, err
	})
	if err != nil {
		return Session{}, err
	}
	u, err := s.Get(ctx, old.UserID)
	if err != nil {
		return Session{}, ErrRefreshInvalid
	}
	access, _, err := s.tokens.Issue(u.ID, u.Role, old.FamilyID)
	if err != nil {
		return Session{}, err
	}
	return Session{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.tokens.TTL(), User: u}, nil
}

// Logout ends the caller's session: its refresh tokens are revoked, and its
// access tokens stop working at every gateway. A refresh token given along
// ends the session it belongs to as well.
func (s *Service) Logout(ctx context.Context, claims token.Claims, refresh string) error {
	id := claims.UserID()
	ev, err := s.securityEvent(ctx, events.TypeUserLoggedOut, DisplayID(id),
		events.Actor{ID: strconv.FormatInt(id, 10), Role: string(claims.Role)},
		events.UserSecurity{UserID: &id, Revoke: &events.Revocation{UserID: id, SessionIDs: []string{claims.SessionID}}})
	if err != nil {
		return err
	}
	var hash []byte
	if refresh != "" {
		hash = HashRefreshToken(refresh)
	}
	if err := s.store.RevokeSession(ctx, id, claims.SessionID, hash, []events.Event{ev}); err != nil {
		return fmt.Errorf("logout %d: %w", id, err)
	}
	return nil
}

// recordLogin writes the logged_in or login_failed event. A failure to
// record is logged, not returned: the login's answer must not depend on it.
//
// A failed login is no act of the account it names: its actor is anonymous
// (the event's subject and user_id say which account was tried), and both
// kinds carry the client address.
func (s *Service) recordLogin(ctx context.Context, u *User, email, client, reason string) {
	typ, subject := events.TypeUserLoggedIn, ""
	data := events.UserSecurity{Email: email, Reason: reason, IPAddress: client}
	actor := events.Actor{}
	if u != nil {
		data.UserID = &u.ID
		subject = u.DisplayID()
	}
	if reason != "" {
		typ = events.TypeUserLoginFailed
	} else if u != nil {
		actor = userActor(*u)
	}
	ev, err := s.securityEvent(ctx, typ, subject, actor, data)
	if err == nil {
		err = s.store.Append(ctx, ev)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "could not record login event", "type", typ, "err", err)
	}
}

// ErrWrongPassword answers a password change with a wrong current password.
var ErrWrongPassword = fault.New(fault.Invalid, "wrong_password", "Current password is incorrect")

// ChangePassword replaces the caller's password after checking the current
// one. Every other session of the user dies: their refresh tokens are
// revoked and the gateways refuse their access tokens. The session the
// change was made in goes on.
//
// Wrong current passwords are throttled per user (see PasswordCheckBurst).
func (s *Service) ChangePassword(ctx context.Context, claims token.Claims, current, next string) error {
	id := claims.UserID()
	key := strconv.FormatInt(id, 10)
	if wait := s.passwordChecks.Wait(key); wait > 0 {
		return &fault.Error{Kind: fault.TooMany, Code: "too_many_attempts",
			Detail: "Too many wrong current passwords; try again later", RetryAfter: wait}
	}
	u, err := s.Get(ctx, id)
	if err != nil {
		return err
	}
	ok, _, err := s.verify(ctx, u.PasswordHash, current)
	if err != nil {
		return err
	}
	if !ok {
		s.passwordChecks.Spend(key)
		return ErrWrongPassword
	}
	if current == next {
		return fault.New(fault.Invalid, "same_password", "Password validation failed: the new password must differ from the current one")
	}
	if err := CheckPassword(next, u.Email); err != nil {
		return err
	}
	hash, err := s.hash(ctx, next)
	if err != nil {
		return err
	}
	err = s.store.ChangePassword(ctx, id, hash, claims.SessionID, func(revoked []string) ([]events.Event, error) {
		ev, err := s.securityEvent(ctx, events.TypeUserPasswordChanged, u.DisplayID(), userActor(u),
			events.UserSecurity{UserID: &u.ID, Revoke: &events.Revocation{UserID: u.ID, SessionIDs: revoked}})
		return []events.Event{ev}, err
	})
	if err != nil {
		return fmt.Errorf("change password of %d: %w", id, err)
	}
	return nil
}

// newRefreshToken makes a random refresh token and its stored form.
func (s *Service) newRefreshToken(userID int64, family string) (RefreshToken, string, error) {
	raw, err := randomString(32)
	if err != nil {
		return RefreshToken{}, "", fmt.Errorf("refresh token: %w", err)
	}
	if family == "" && userID != 0 {
		if family, err = randomString(16); err != nil {
			return RefreshToken{}, "", err
		}
	}
	return RefreshToken{
		Hash: HashRefreshToken(raw), UserID: userID, FamilyID: family,
		ExpiresAt: s.now().Add(RefreshTTL),
	}, raw, nil
}
