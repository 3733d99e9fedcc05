// Package user holds the rules of the auth service: who a user is, how one
// registers and logs in, and what a profile may contain. It knows neither
// HTTP nor SQL; storage is behind the Store interface.
package user

import (
	"context"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/ids"
)

// User is a registered account.
type User struct {
	ID           int64
	Email        string
	PasswordHash string
	Role         access.Role
	INN          *string
	Phone        *string
	FirstName    *string
	LastName     *string
	FatherName   *string
	BirthDate    *time.Time // a date; the time of day is zero, UTC
	Active       bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Version counts the changes of the user its events publish: the store
	// counts one up with every update and role change, and the event of a
	// change carries the counted version as its after.
	Version int64
}

// DisplayID is the human-readable id of user id, as USR000001.
func DisplayID(id int64) string { return ids.Display(ids.User, id) }

// DisplayID is the human-readable id of u.
func (u User) DisplayID() string { return DisplayID(u.ID) }

// Public is the user as other services see it in events: no credentials.
func (u User) Public() events.User {
	return events.User{
		ID: u.ID, DisplayID: u.DisplayID(), Email: u.Email, Role: string(u.Role),
		FirstName: u.FirstName, LastName: u.LastName, FatherName: u.FatherName, INN: u.INN, Phone: u.Phone,
		Active: u.Active, Version: u.Version,
	}
}

// RefreshToken is the stored form of a refresh token: only its hash.
type RefreshToken struct {
	Hash      []byte
	UserID    int64
	FamilyID  string
	ExpiresAt time.Time
}

// Store keeps users. Methods that change state take a function returning the
// events that describe the change, and commit both in one transaction.
type Store interface {
	// Create inserts u and the events that events(created) returns; it fails
	// with a Conflict fault when the email is taken (case-insensitively).
	Create(ctx context.Context, u User, events func(User) ([]events.Event, error)) (User, error)
	// ByEmail returns the user with that email (case-insensitively), or a
	// NotFound fault.
	ByEmail(ctx context.Context, email string) (User, error)
	// ByID returns the user, or a NotFound fault.
	ByID(ctx context.Context, id int64) (User, error)
	// AdminExists reports whether an active admin exists.
	AdminExists(ctx context.Context) (bool, error)
	// SetPasswordHash replaces the stored hash (used to upgrade bcrypt hashes).
	SetPasswordHash(ctx context.Context, id int64, hash string) error
	// AddRefreshToken stores a refresh token's hash.
	AddRefreshToken(ctx context.Context, t RefreshToken) error
	// RotateRefreshToken marks the live token with hash old as used and
	// stores next in its family, returning the old token. A token already
	// used is a theft signal: its whole family is revoked, the events of
	// onReuse are written, and ErrRefreshReused is returned. An unknown,
	// expired or revoked token is ErrRefreshInvalid.
	RotateRefreshToken(ctx context.Context, old []byte, next RefreshToken, onReuse func(RefreshToken) ([]events.Event, error)) (RefreshToken, error)
	// RevokeSession revokes the refresh tokens of the user's session (a
	// refresh-token family) and of the family of the token with hash, if
	// any, and writes evs, in one transaction.
	RevokeSession(ctx context.Context, userID int64, session string, hash []byte, evs []events.Event) error
	// ChangePassword sets the user's password hash and revokes the refresh
	// tokens of every session but keep, writing the events that
	// evs(revoked sessions) returns, in one transaction.
	ChangePassword(ctx context.Context, id int64, hash, keep string, evs func(revoked []string) ([]events.Event, error)) error
	// ChangeRole sets the user's role and revokes the refresh tokens of all
	// their sessions, writing the events that evs(before, revoked sessions)
	// returns, in one transaction; NotFound if there is no such user.
	ChangeRole(ctx context.Context, id int64, role access.Role, evs func(before User, revoked []string) ([]events.Event, error)) (User, error)
	// Update locks the user, lets change modify it and returns the events of
	// the change, then saves both.
	Update(ctx context.Context, id int64, change func(*User) ([]events.Event, error)) (User, error)
	// Append writes events that go with no state change (logins, for example).
	Append(ctx context.Context, evs ...events.Event) error
	// List returns users of role ordered by id, limit from offset, and how
	// many there are.
	List(ctx context.Context, role access.Role, offset, limit int) ([]User, int64, error)
	// Delete removes the user id of role with the events that events(user)
	// returns; NotFound if there is no such user of that role, Conflict if a
	// user still owns tickets.
	Delete(ctx context.Context, id int64, role access.Role, events func(User) ([]events.Event, error)) error
	// ApplyTicketRefs keeps who owns which ticket, in one write: a ref of
	// a deleted ticket stays deleted whatever arrives after it.
	ApplyTicketRefs(ctx context.Context, refs []TicketRef) error
}

// ErrRefreshInvalid answers a refresh token that cannot be used.
var ErrRefreshInvalid = fault.New(fault.Unauthenticated, "invalid_refresh_token", "Invalid or expired refresh token")

// ErrRefreshReused answers a refresh token presented a second time.
var ErrRefreshReused = fault.New(fault.Unauthenticated, "refresh_token_reused",
	"Refresh token already used; every session started from it has been revoked")

// ErrEmailTaken is the contract's answer to a duplicate registration.
var ErrEmailTaken = fault.New(fault.Invalid, "email_taken", "Email already registered")

// ErrNotFound answers a user id or email that no user has.
var ErrNotFound = fault.New(fault.NotFound, "user_not_found", "User not found")

// ErrHasRequests refuses to delete a user who owns tickets.
var ErrHasRequests = fault.New(fault.Conflict, "user_has_requests", "Cannot delete user with existing requests")

// ErrBadCredentials is the one answer to a failed login, whatever failed.
var ErrBadCredentials = fault.New(fault.Unauthenticated, "invalid_credentials", "Invalid email or password")
