package ticket

import (
	"context"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Comment is one entry of a ticket's thread. Internal notes are written and
// read by staff and admins only.
type Comment struct {
	ID        int64
	TicketID  int64
	AuthorID  int64
	Body      string
	Internal  bool
	CreatedAt time.Time
}

// CommentView is a comment with its author from the directory.
type CommentView struct {
	Comment
	Author User
}

func (c Comment) snapshot() *events.Comment {
	return &events.Comment{ID: c.ID, TicketID: c.TicketID, AuthorID: c.AuthorID, Body: c.Body, Internal: c.Internal, CreatedAt: c.CreatedAt}
}

// Comments returns the thread of a ticket the actor may see; internal notes
// only for staff and admins.
func (s *Service) Comments(ctx context.Context, a Actor, id int64) ([]CommentView, error) {
	if _, err := s.Get(ctx, a, id); err != nil {
		return nil, err
	}
	return s.store.Comments(ctx, id, a.seesAll())
}

// AddComment adds to the thread of a ticket the actor may see and announces
// it with support.ticket.comment_added. A staff member's or admin's comment
// counts as the first response. With an idempotency key, a retry returns
// the first comment and announces nothing.
func (s *Service) AddComment(ctx context.Context, a Actor, id int64, body string, internal bool, idem *Idempotency) (CommentView, error) {
	v, err := s.Get(ctx, a, id)
	if err != nil {
		return CommentView{}, err
	}
	if internal && !a.seesAll() {
		return CommentView{}, fault.New(fault.Forbidden, "internal_note", "Only staff and admins can write internal notes")
	}
	text, fe := checkText(body)
	if fe != nil {
		fe.Field = "body"
		return CommentView{}, fault.Fields(*fe)
	}
	// A staff member's or admin's reply the owner can see is the first
	// response; an internal note is not.
	firstResponse := a.seesAll() && !internal && v.FirstResponseAt == nil
	c, err := s.store.AddComment(ctx, Comment{TicketID: id, AuthorID: a.ID, Body: text, Internal: internal}, firstResponse, idem,
		func(saved Comment) ([]events.Event, error) {
			t := v.Ticket
			snap := t.Snapshot()
			ev, err := events.New(ctx, events.SourceTickets, events.TypeTicketCommentAdded, t.DisplayID(), a.event(),
				events.TicketChanged{Before: &snap, After: &snap, Comment: saved.snapshot()})
			return []events.Event{ev}, err
		})
	if err != nil {
		return CommentView{}, err
	}
	author, err := s.store.User(ctx, a.ID)
	if err != nil {
		author = User{ID: a.ID, Role: a.Role}
	}
	return CommentView{Comment: c, Author: author}, nil
}
