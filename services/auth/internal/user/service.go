package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/ratelimit"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// RefreshTTL is how long a refresh token stays valid.
const RefreshTTL = 7 * 24 * time.Hour

// Service carries out registration, login and profile reads.
type Service struct {
	store  Store
	tokens *token.Manager
	logger *slog.Logger
	now    func() time.Time
	// dummyHash is verified when a login names an unknown email, so that the
	// answer takes as long as a wrong password does.
	dummyHash string
	// Failed logins are throttled per account and client address pair,
	// more loosely per account from every address, and per client address.
	pairs, accounts, clients *ratelimit.Keyed
	// Wrong current passwords on a password change are throttled per user.
	passwordChecks *ratelimit.Keyed
	// hashing bounds the concurrent password hashes, so that a login storm
	// cannot take every CPU from the other routes.
	hashing chan struct{}
}

// Login throttling and hashing limits.
//
// Five failures from one address lock that address out of one account, one
// more try every 30 s. An account locks for everyone only after 50 failures
// from any addresses (then one more try every 5 s, 720 an hour), so a single
// guesser cannot lock its owner out, and many guessers still get few tries.
// An address gets 20 failures over every account, then one every 3 s.
const (
	PairBurst       = 5
	PairInterval    = 30 * time.Second
	AccountBurst    = 50
	AccountInterval = 5 * time.Second
	ClientBurst     = 20
	ClientInterval  = 3 * time.Second
	// A password change with a wrong current password: five, then one
	// every 30 s, per user, so a stolen access token cannot guess it.
	PasswordCheckBurst    = 5
	PasswordCheckInterval = 30 * time.Second
	// hashWait is how long a login waits for a hashing slot before it is
	// told the service is busy.
	hashWait = 5 * time.Second
)

// NewService returns a Service over store issuing tokens with tokens.
func NewService(store Store, tokens *token.Manager, logger *slog.Logger) (*Service, error) {
	dummy, err := HashPassword("dummy password for timing")
	if err != nil {
		return nil, err
	}
	return &Service{
		store: store, tokens: tokens, logger: logger, now: time.Now, dummyHash: dummy,
		pairs:          ratelimit.New(PairBurst, PairInterval),
		accounts:       ratelimit.New(AccountBurst, AccountInterval),
		clients:        ratelimit.New(ClientBurst, ClientInterval),
		passwordChecks: ratelimit.New(PasswordCheckBurst, PasswordCheckInterval),
		// Half the cores: each hash takes a core for tens of milliseconds
		// (and 19 MiB), so a burst of logins queues for its turn instead of
		// taking every core from requests that need microseconds (S6).
		hashing: make(chan struct{}, max(1, runtime.NumCPU()/2)),
	}, nil
}

// Limits are the service's throttles by the NATS subject on which the
// replicas share them (see service.ShareLimits), so that N replicas do not
// allow N times the failures.
func (s *Service) Limits() map[string]*ratelimit.Keyed {
	return map[string]*ratelimit.Keyed{
		"ratelimit.auth.login.pair":    s.pairs,
		"ratelimit.auth.login.account": s.accounts,
		"ratelimit.auth.login.client":  s.clients,
		"ratelimit.auth.password":      s.passwordChecks,
	}
}

// ErrBusy answers a login that waited too long for a hashing slot.
var ErrBusy = &fault.Error{Kind: fault.Unavailable, Code: "busy", Detail: "Too many logins at once; try again shortly", RetryAfter: time.Second}

// withHashSlot runs f while holding one of the bounded hashing slots.
func (s *Service) withHashSlot(ctx context.Context, f func()) error {
	ctx, cancel := context.WithTimeout(ctx, hashWait)
	defer cancel()
	select {
	case s.hashing <- struct{}{}:
	case <-ctx.Done():
		return ErrBusy
	}
	defer func() { <-s.hashing }()
	f()
	return nil
}

// verify checks password against hash within a hashing slot.
func (s *Service) verify(ctx context.Context, hash, password string) (ok, rehash bool, err error) {
	if slotErr := s.withHashSlot(ctx, func() { ok, rehash, err = VerifyPassword(hash, password) }); slotErr != nil {
		return false, false, slotErr
	}
	return ok, rehash, err
}

// hash hashes password within a hashing slot.
func (s *Service) hash(ctx context.Context, password string) (h string, err error) {
	if slotErr := s.withHashSlot(ctx, func() { h, err = HashPassword(password) }); slotErr != nil {
		return "", slotErr
	}
	return h, err
}

func tooMany(wait time.Duration) error {
	return &fault.Error{Kind: fault.TooMany, Code: "too_many_attempts",
		Detail: "Too many failed login attempts; try again later", RetryAfter: wait}
}

// Profile is the optional personal data of a user.
type Profile struct {
	INN        *string
	Phone      *string
	FirstName  *string
	LastName   *string
	FatherName *string
	BirthDate  *string // YYYY-MM-DD
}

// Registration is what a new user submits.
type Registration struct {
	Email    string
	Password string
	Profile  Profile
}

// validate normalises r into a user of role, collecting every invalid field,
// and applies the password policy when enforcePolicy is set.
func (s *Service) validate(r Registration, role access.Role, enforcePolicy bool) (User, error) {
	var fields []fault.FieldError
	add := func(fe *fault.FieldError) {
		if fe != nil {
			fields = append(fields, *fe)
		}
	}
	email, fe := NormalizeEmail(r.Email)
	add(fe)
	u := User{Email: email, Role: role, Active: true}
	p := r.Profile
	if p.INN != nil {
		v, fe := NormalizeINN(*p.INN)
		add(fe)
		u.INN = &v
	}
	if p.Phone != nil {
		v, fe := NormalizePhone(*p.Phone)
		add(fe)
		u.Phone = &v
	}
	for _, n := range []struct {
		field string
		in    *string
		out   **string
	}{{"first_name", p.FirstName, &u.FirstName}, {"last_name", p.LastName, &u.LastName}, {"father_name", p.FatherName, &u.FatherName}} {
		if n.in != nil {
			v, fe := CheckName(n.field, *n.in)
			add(fe)
			*n.out = &v
		}
	}
	if p.BirthDate != nil {
		d, fe := ParseBirthDate(*p.BirthDate, s.now())
		add(fe)
		u.BirthDate = &d
	}
	if len(fields) > 0 {
		return User{}, fault.Fields(fields...)
	}
	if !enforcePolicy {
		return u, nil
	}
	if err := CheckPassword(r.Password, email); err != nil {
		return User{}, err
	}
	return u, nil
}

// Register creates a user of role (the public route always asks for
// access.RoleUser) and publishes support.user.registered.
func (s *Service) Register(ctx context.Context, r Registration, role access.Role, actor events.Actor) (User, error) {
	return s.register(ctx, r, role, actor, true)
}

func (s *Service) register(ctx context.Context, r Registration, role access.Role, actor events.Actor, enforcePolicy bool) (User, error) {
	u, err := s.validate(r, role, enforcePolicy)
	if err != nil {
		return User{}, err
	}
	if u.PasswordHash, err = s.hash(ctx, r.Password); err != nil {
		return User{}, err
	}
	created, err := s.store.Create(ctx, u, func(c User) ([]events.Event, error) {
		if actor.ID == "" { // self-registration: the new user is the actor
			actor = events.Actor{ID: strconv.FormatInt(c.ID, 10), Role: string(c.Role)}
		}
		ev, err := events.New(ctx, events.SourceAuth, events.TypeUserRegistered, c.DisplayID(), actor,
			events.UserRegistered{User: c.Public(), CreatedAt: c.CreatedAt})
		return []events.Event{ev}, err
	})
	if err != nil {
		return User{}, fault.Wrap(err, "register %s", u.Email)
	}
	return created, nil
}

// Session is what a successful login returns.
type Session struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	User         User
}

// Login checks the credentials and opens a session. An unknown email and a
// wrong password get the same error after the same amount of hashing.
// Failures are throttled per account and client address pair, per account
// and per client address (see PairBurst).
func (s *Service) Login(ctx context.Context, email, password, client string) (Session, error) {
	email, fe := NormalizeEmail(email)
	pairKey, accountKey, clientKey := email+" "+client, email, client
	if wait := max(s.pairs.Wait(pairKey), s.accounts.Wait(accountKey), s.clients.Wait(clientKey)); wait > 0 {
		s.recordLogin(ctx, nil, email, client, "throttled")
		return Session{}, tooMany(wait)
	}
	fail := func(u *User, reason string) (Session, error) {
		s.pairs.Spend(pairKey)
		s.accounts.Spend(accountKey)
		s.clients.Spend(clientKey)
		s.recordLogin(ctx, u, email, client, reason)
		return Session{}, ErrBadCredentials
	}

	u, err := s.store.ByEmail(ctx, email)
	switch {
	case fe != nil || fault.Is(err, fault.NotFound):
		if _, _, err := s.verify(ctx, s.dummyHash, password); fault.Is(err, fault.Unavailable) {
			return Session{}, err
		}
		return fail(nil, "unknown email")
	case err != nil:
		return Session{}, fmt.Errorf("login: %w", err)
	}
	ok, rehash, err := s.verify(ctx, u.PasswordHash, password)
	if err != nil {
		return Session{}, fmt.Errorf("login %d: %w", u.ID, err)
	}
	if !ok || !u.Active {
		return fail(&u, "wrong password")
	}
	if rehash {
		s.upgradeHash(ctx, u.ID, password)
	}
	sess, err := s.openSession(ctx, u)
	if err == nil {
		s.recordLogin(ctx, &u, email, client, "")
	}
	return sess, err
}

// upgradeHash replaces a legacy bcrypt hash, or an argon2id hash made with
// other parameters, by a current one. A failure is logged only: the login
// itself succeeded.
func (s *Service) upgradeHash(ctx context.Context, id int64, password string) {
	hash, err := s.hash(ctx, password)
	if err == nil {
		err = s.store.SetPasswordHash(ctx, id, hash)
	}
	if err != nil {
		s.logger.WarnContext(ctx, "could not upgrade password hash", "user_id", id, "err", err)
	}
}

func (s *Service) openSession(ctx context.Context, u User) (Session, error) {
	rt, refresh, err := s.newRefreshToken(u.ID, "")
	if err != nil {
		return Session{}, err
	}
	access, _, err := s.tokens.Issue(u.ID, u.Role, rt.FamilyID)
	if err != nil {
		return Session{}, err
	}
	if err := s.store.AddRefreshToken(ctx, rt); err != nil {
		return Session{}, fmt.Errorf("store refresh token: %w", err)
	}
	return Session{AccessToken: access, RefreshToken: refresh, ExpiresIn: s.tokens.TTL(), User: u}, nil
}

func randomString(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// HashRefreshToken is how a refresh token is stored: its SHA-256. The token
// is 256 random bits, so a slow hash would add nothing.
func HashRefreshToken(raw string) []byte {
	sum := sha256.Sum256([]byte(raw))
	return sum[:]
}

// ErrUserGone answers a valid token whose user no longer exists.
var ErrUserGone = fault.New(fault.Unauthenticated, "user_inactive", "Could not validate credentials")

// Get returns the active user id.
func (s *Service) Get(ctx context.Context, id int64) (User, error) {
	u, err := s.store.ByID(ctx, id)
	if fault.Is(err, fault.NotFound) || (err == nil && !u.Active) {
		return User{}, ErrUserGone
	}
	if err != nil {
		return User{}, fmt.Errorf("get user %d: %w", id, err)
	}
	return u, nil
}

// Seed is one INITIAL_* account.
type Seed struct {
	Role     access.Role
	Email    string
	Password string
	Profile  Profile
}

// Bootstrap creates the initial accounts on first start: the admin only if
// no admin exists, the others unless their email is registered. It is
// idempotent, also when several replicas run it at once.
func (s *Service) Bootstrap(ctx context.Context, seeds []Seed) error {
	var errs []error
	for _, seed := range seeds {
		if seed.Email == "" || seed.Password == "" {
			s.logger.InfoContext(ctx, "bootstrap: skipping account; its INITIAL_* email or password is not set", "role", seed.Role)
			continue
		}
		if seed.Role == access.RoleAdmin {
			exists, err := s.store.AdminExists(ctx)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if exists {
				continue
			}
		}
		// The operator chose these passwords; the seed's own examples break
		// the policy (they contain the email's local part), so a weak one is
		// reported, not refused.
		if err := CheckPassword(seed.Password, seed.Email); err != nil {
			s.logger.WarnContext(ctx, "bootstrap: INITIAL_* password is weak; change it after the first login", "role", seed.Role, "reason", err.Error())
		}
		u, err := s.register(ctx, Registration{Email: seed.Email, Password: seed.Password, Profile: seed.Profile},
			seed.Role, events.Actor{ID: "system", Role: "system"}, false)
		switch {
		case errors.Is(err, ErrEmailTaken): // created earlier, or by another replica
		case err != nil:
			errs = append(errs, fmt.Errorf("bootstrap %s: %w", seed.Role, err))
		default:
			s.logger.InfoContext(ctx, "bootstrap: created account", "role", u.Role, "email", u.Email, "id", u.DisplayID())
		}
	}
	return errors.Join(errs...)
}
