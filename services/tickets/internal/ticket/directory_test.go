package ticket_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// fakeStore records directory writes; ticket methods are not used here.
type fakeStore struct {
	ticket.Store
	users      map[int64]ticket.User
	unassigned []int64
}

func (f *fakeStore) UnassignStaff(_ context.Context, staffID int64, _ func(before, after ticket.Ticket) ([]events.Event, error)) error {
	f.unassigned = append(f.unassigned, staffID)
	return nil
}

func (f *fakeStore) PutUser(_ context.Context, u ticket.User, _ int64) error {
	f.users[u.ID] = u
	return nil
}

func TestDirectoryApply(t *testing.T) {
	store := &fakeStore{users: map[int64]ticket.User{}}
	d := ticket.NewDirectory(store)
	ctx := context.Background()

	ev, err := events.New(ctx, events.SourceAuth, events.TypeUserRegistered, "USR000005", events.Actor{},
		events.UserRegistered{User: events.User{ID: 5, Email: "s@x.com", Role: "staff", Active: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, ev); err != nil {
		t.Fatal(err)
	}
	if u := store.users[5]; u.Email != "s@x.com" || u.Role != "staff" || !u.Active {
		t.Errorf("directory entry = %+v", u)
	}

	deleted, err := events.New(ctx, events.SourceAuth, events.TypeUserDeleted, "USR000005", events.Actor{},
		events.UserChanged{After: events.User{ID: 5, Email: "s@x.com", Role: "staff", Active: true}})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Apply(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	if u := store.users[5]; u.Active {
		t.Errorf("a deleted user is still active in the directory: %+v", u)
	}
	if len(store.unassigned) != 1 || store.unassigned[0] != 5 {
		t.Errorf("unassigned %v, want the deleted staff member's tickets", store.unassigned)
	}

	other := ev
	other.Type = "support.user.unheard_of.v1"
	if err := d.Apply(ctx, other); err != nil {
		t.Errorf("an unknown user event must be ignored, got %v", err)
	}

	for name, data := range map[string]string{
		"not an object": `[1,2]`,
		"no id":         `{"user":{"email":"a@b.c","role":"user"}}`,
		"bad role":      `{"user":{"id":9,"email":"a@b.c","role":"root"}}`,
	} {
		t.Run(name, func(t *testing.T) {
			bad := ev
			bad.Data = json.RawMessage(data)
			if err := d.Apply(ctx, bad); !fault.Is(err, fault.Invalid) {
				t.Errorf("Apply = %v, want an Invalid fault", err)
			}
		})
	}
}
