package user

import (
	"context"
	"fmt"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Field is one field of a partial update: absent (Set false), cleared (Set
// and Value nil) or given a value.
type Field struct {
	Set   bool
	Value *string
}

// ProfilePatch is a partial profile update. Email and role cannot change here.
type ProfilePatch struct {
	INN, Phone, FirstName, LastName, FatherName, BirthDate Field
}

// apply validates p and writes it into u, returning every invalid field.
func (s *Service) apply(p ProfilePatch, u *User) error {
	var fields []fault.FieldError
	set := func(f Field, dst **string, norm func(string) (string, *fault.FieldError)) {
		if !f.Set {
			return
		}
		if f.Value == nil {
			*dst = nil
			return
		}
		v, fe := norm(*f.Value)
		if fe != nil {
			fields = append(fields, *fe)
			return
		}
		*dst = &v
	}
	set(p.INN, &u.INN, NormalizeINN)
	set(p.Phone, &u.Phone, NormalizePhone)
	set(p.FirstName, &u.FirstName, func(v string) (string, *fault.FieldError) { return CheckName("first_name", v) })
	set(p.LastName, &u.LastName, func(v string) (string, *fault.FieldError) { return CheckName("last_name", v) })
	set(p.FatherName, &u.FatherName, func(v string) (string, *fault.FieldError) { return CheckName("father_name", v) })
	if p.BirthDate.Set {
		if p.BirthDate.Value == nil {
			u.BirthDate = nil
		} else if d, fe := ParseBirthDate(*p.BirthDate.Value, s.now()); fe != nil {
			fields = append(fields, *fe)
		} else {
			u.BirthDate = &d
		}
	}
	if len(fields) > 0 {
		return fault.Fields(fields...)
	}
	return nil
}

// UpdateProfile applies a partial update to the caller's profile and
// publishes support.user.profile_updated. Nothing is written when a field is
// invalid.
func (s *Service) UpdateProfile(ctx context.Context, id int64, p ProfilePatch) (User, error) {
	u, err := s.store.Update(ctx, id, func(u *User) ([]events.Event, error) {
		if !u.Active {
			return nil, ErrUserGone
		}
		before := u.Public()
		if err := s.apply(p, u); err != nil {
			return nil, err
		}
		u.Version++ // as the store counts the change
		ev, err := events.New(ctx, events.SourceAuth, events.TypeUserProfileUpdated, u.DisplayID(), userActor(*u),
			events.UserChanged{Before: before, After: u.Public()})
		return []events.Event{ev}, err
	})
	if fault.Is(err, fault.NotFound) {
		return User{}, ErrUserGone
	}
	if err != nil {
		return User{}, fmt.Errorf("update profile of %d: %w", id, err)
	}
	return u, nil
}
