// Package webhook holds the rules of webhook endpoints and their
// deliveries: who may register one, what it may subscribe to and reach,
// how deliveries are signed and retried. It knows neither HTTP handlers
// nor SQL.
package webhook

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Endpoint is a registered webhook: where, which events, signed with
// Secret.
type Endpoint struct {
	ID          string
	URL         string
	EventTypes  []string
	Description string
	Active      bool
	Secret      string
	CreatedAt   time.Time
	UpdatedAt   time.Time
	// FailingSince is the time of the first failed attempt since the last
	// success; nil while deliveries succeed.
	FailingSince *time.Time
}

// Snapshot is e as webhook events carry it, without its secret.
func (e Endpoint) Snapshot() events.Webhook {
	return events.Webhook{ID: e.ID, URL: e.URL, EventTypes: e.EventTypes, Description: e.Description, Active: e.Active, FailingSince: e.FailingSince}
}

// Attempt is one try to deliver an event to an endpoint.
type Attempt struct {
	ID         int64
	EndpointID string
	EventID    string
	EventType  string
	Attempt    int
	StatusCode *int
	Error      *string
	Duration   time.Duration
	CreatedAt  time.Time
}

// Subscribable are the event types a webhook may subscribe to: every
// domain event. The gateway's API-log events (support.api.*) are the access
// log, one per request, and are not offered.
var Subscribable = []string{
	events.TypeUserRegistered, events.TypeUserProfileUpdated, events.TypeUserPasswordChanged, events.TypeUserRoleChanged,
	events.TypeUserDeleted, events.TypeUserLoggedIn, events.TypeUserLoginFailed, events.TypeUserLoggedOut,
	events.TypeUserRefreshReused, events.TypeTicketCreated, events.TypeTicketUpdated, events.TypeTicketDeleted,
	events.TypeTicketStatusChanged, events.TypeTicketAssigned, events.TypeTicketUnassigned, events.TypeTicketCommentAdded,
	events.TypeTicketSLABreached, events.TypeWebhookDeactivated,
}

// Subjects are the NATS subjects of the subscribable events, for the
// delivery consumer's filter.
var Subjects = []string{"support.user.>", "support.ticket.>", "support.webhook.>"}

// MaxDescriptionLen bounds an endpoint's description.
const MaxDescriptionLen = 500

// Store keeps endpoints and their attempts.
type Store interface {
	// Create inserts e.
	Create(ctx context.Context, e Endpoint) (Endpoint, error)
	// List returns every endpoint, oldest first.
	List(ctx context.Context) ([]Endpoint, error)
	// Get returns an endpoint, or ErrNotFound.
	Get(ctx context.Context, id string) (Endpoint, error)
	// Update locks the endpoint, lets change modify it and saves it.
	Update(ctx context.Context, id string, change func(*Endpoint) error) (Endpoint, error)
	// Delete removes the endpoint with its pending deliveries and attempts.
	Delete(ctx context.Context, id string) error
	// Attempts returns one page of the endpoint's attempts, newest first,
	// and how many there are.
	Attempts(ctx context.Context, id string, offset, limit int) ([]Attempt, int64, error)
}

// ErrNotFound answers an endpoint that does not exist.
var ErrNotFound = fault.New(fault.NotFound, "webhook_not_found", "Webhook not found")

// Service carries out the admins' webhook operations.
type Service struct {
	store Store
	guard Guard
	now   func() time.Time
}

// NewService returns a Service over store that checks URLs with guard.
func NewService(store Store, guard Guard) *Service {
	return &Service{store: store, guard: guard, now: time.Now}
}

// Actor is the authenticated caller.
type Actor struct {
	ID   int64
	Role access.Role
}

func require(a Actor) error { return access.Check(a.Role, access.ManageWebhooks) }

// Draft is an admin's new endpoint.
type Draft struct {
	URL         *string
	EventTypes  []string
	Description *string
}

// Patch changes an endpoint; nil fields stay as they are.
type Patch struct {
	URL        *string
	EventTypes []string // nil: unchanged
	Active     *bool
}

// checkEventTypes validates a subscription: one or more known types, each
// once.
func checkEventTypes(types []string) (*fault.FieldError, []string) {
	if len(types) == 0 {
		return &fault.FieldError{Field: "event_types", Message: "must list at least one event type"}, nil
	}
	var out []string
	for _, t := range types {
		if !slices.Contains(Subscribable, t) {
			return &fault.FieldError{Field: "event_types", Message: fmt.Sprintf("%q is not an event type a webhook can receive (one of %s)", t, strings.Join(Subscribable, ", "))}, nil
		}
		if !slices.Contains(out, t) {
			out = append(out, t)
		}
	}
	return nil, out
}

// NewSecret returns a signing secret as the Standard Webhooks
// specification writes it: "whsec_" and the base64 of 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// Create registers an endpoint. Its secret is in the result, and shown
// only here and on rotation.
func (s *Service) Create(ctx context.Context, a Actor, d Draft) (Endpoint, error) {
	if err := require(a); err != nil {
		return Endpoint{}, err
	}
	var fields []fault.FieldError
	if d.URL == nil {
		fields = append(fields, fault.FieldError{Field: "url", Message: "is required"})
	}
	fe, types := checkEventTypes(d.EventTypes)
	if fe != nil {
		fields = append(fields, *fe)
	}
	e := Endpoint{EventTypes: types, Active: true}
	if d.Description != nil {
		if utf8.RuneCountInString(*d.Description) > MaxDescriptionLen {
			fields = append(fields, fault.FieldError{Field: "description", Message: fmt.Sprintf("must be at most %d characters", MaxDescriptionLen)})
		}
		e.Description = *d.Description
	}
	if len(fields) > 0 {
		return Endpoint{}, fault.Fields(fields...)
	}
	var err error
	if e.URL, err = s.guard.CheckURL(ctx, *d.URL); err != nil {
		return Endpoint{}, err
	}
	if e.Secret, err = NewSecret(); err != nil {
		return Endpoint{}, err
	}
	e.CreatedAt = s.now().UTC()
	e.UpdatedAt = e.CreatedAt
	return s.store.Create(ctx, e)
}

// List returns every endpoint.
func (s *Service) List(ctx context.Context, a Actor) ([]Endpoint, error) {
	if err := require(a); err != nil {
		return nil, err
	}
	return s.store.List(ctx)
}

// Get returns one endpoint.
func (s *Service) Get(ctx context.Context, a Actor, id string) (Endpoint, error) {
	if err := require(a); err != nil {
		return Endpoint{}, err
	}
	return s.store.Get(ctx, id)
}

// Update changes an endpoint's URL, subscription or state. Turning an
// endpoint on again forgets its failures.
func (s *Service) Update(ctx context.Context, a Actor, id string, p Patch) (Endpoint, error) {
	if err := require(a); err != nil {
		return Endpoint{}, err
	}
	var url string
	if p.URL != nil {
		var err error
		if url, err = s.guard.CheckURL(ctx, *p.URL); err != nil {
			return Endpoint{}, err
		}
	}
	var types []string
	if p.EventTypes != nil {
		var fe *fault.FieldError
		if fe, types = checkEventTypes(p.EventTypes); fe != nil {
			return Endpoint{}, fault.Fields(*fe)
		}
	}
	return s.store.Update(ctx, id, func(e *Endpoint) error {
		if p.URL != nil {
			e.URL = url
		}
		if types != nil {
			e.EventTypes = types
		}
		if p.Active != nil {
			if *p.Active && !e.Active {
				e.FailingSince = nil
			}
			e.Active = *p.Active
		}
		e.UpdatedAt = s.now().UTC()
		return nil
	})
}

// Delete removes an endpoint and what was left to deliver to it.
func (s *Service) Delete(ctx context.Context, a Actor, id string) error {
	if err := require(a); err != nil {
		return err
	}
	return s.store.Delete(ctx, id)
}

// RotateSecret gives an endpoint a new secret, which signs every delivery
// from now on; the result shows it.
func (s *Service) RotateSecret(ctx context.Context, a Actor, id string) (Endpoint, error) {
	if err := require(a); err != nil {
		return Endpoint{}, err
	}
	secret, err := NewSecret()
	if err != nil {
		return Endpoint{}, err
	}
	return s.store.Update(ctx, id, func(e *Endpoint) error {
		e.Secret = secret
		e.UpdatedAt = s.now().UTC()
		return nil
	})
}

// Attempts returns a page of an endpoint's delivery attempts, newest first.
func (s *Service) Attempts(ctx context.Context, a Actor, id string, offset, limit int) ([]Attempt, int64, error) {
	if err := require(a); err != nil {
		return nil, 0, err
	}
	if _, err := s.store.Get(ctx, id); err != nil {
		return nil, 0, err
	}
	return s.store.Attempts(ctx, id, offset, limit)
}
