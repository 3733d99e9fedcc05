package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
)

// Store keeps entries and dead letters. It only ever adds them: nothing the
// service does changes or removes a stored entry (retention aside, see
// Purger).
type Store interface {
	// Save stores e and reports whether it did; saving an entry whose
	// event id is already stored succeeds, changes nothing and reports
	// false.
	Save(ctx context.Context, e Entry) (bool, error)
	// SaveDeadLetter stores d.
	SaveDeadLetter(ctx context.Context, d DeadLetter) error
	// RequestActions, Calls and Events return the entries a query selects,
	// newest first (ties broken by event id, descending), and how many
	// there are in all.
	RequestActions(ctx context.Context, q ActionQuery) ([]Entry, int64, error)
	Calls(ctx context.Context, q CallQuery) ([]Entry, int64, error)
	Events(ctx context.Context, q EventQuery) ([]Entry, int64, error)
	// Counts counts the entries since a time, the API calls among them by
	// each of classes, and the ticket actions by action.
	Counts(ctx context.Context, since time.Time, classes []StatusClass) (Counts, error)
	// ProcessTimeAt returns the process time of the API call of the given
	// 1-based rank, in ascending order of process time, among the calls
	// since a time; false when there is no call of that rank.
	ProcessTimeAt(ctx context.Context, since time.Time, rank int64) (float64, bool, error)
}

// Service records events and answers the log queries.
type Service struct {
	store Store
	now   func() time.Time
}

// NewService returns a Service over store, reading the time from now.
func NewService(store Store, now func() time.Time) *Service {
	return &Service{store: store, now: now}
}

// Record stores ev and reports whether it was new. It is idempotent:
// recording an event that is already stored succeeds and reports false. It
// fails with ErrInvalidEvent when ev can never be stored.
func (s *Service) Record(ctx context.Context, ev events.Event) (bool, error) {
	e, err := NewEntry(ev, s.now())
	if err != nil {
		return false, err
	}
	created, err := s.store.Save(ctx, e)
	if err != nil {
		return false, fmt.Errorf("record event %s: %w", ev.ID, err)
	}
	return created, nil
}

// RecordDeadLetter stores d, stamped with the time it was received.
func (s *Service) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	d.ReceivedAt = s.now().UTC()
	if err := s.store.SaveDeadLetter(ctx, d); err != nil {
		return fmt.Errorf("record dead letter from %s: %w", d.Subject, err)
	}
	return nil
}

// Result is one page of entries and the number of entries on all pages.
type Result struct {
	Entries []Entry
	Total   int64
}

// RequestActions returns page p of the actions on tickets that f selects,
// reads included, newest first. Invalid parameters fail with a
// fault.Validation error naming each bad field.
func (s *Service) RequestActions(ctx context.Context, f Filter, p Page) (Result, error) {
	if fields := Validate(f, p); len(fields) > 0 {
		return Result{}, fieldsError(fields)
	}
	q := ActionQuery{
		RequestID: f.RequestID,
		ActorID:   f.UserID,
		Action:    f.Action,
		Since:     periodStart(s.now(), f.HoursAgo),
		Offset:    p.offset(),
		Limit:     int64(p.Size),
	}
	entries, total, err := s.store.RequestActions(ctx, q)
	if err != nil {
		return Result{}, fmt.Errorf("request actions: %w", err)
	}
	return Result{Entries: entries, Total: total}, nil
}

// APILogs returns page p of the API calls that f selects, newest first.
// Invalid parameters fail as in RequestActions.
func (s *Service) APILogs(ctx context.Context, f CallFilter, p Page) (Result, error) {
	if fields := ValidateCalls(f, p); len(fields) > 0 {
		return Result{}, fieldsError(fields)
	}
	q := CallQuery{
		Method:     f.Method,
		StatusCode: f.StatusCode,
		ActorID:    f.UserID,
		Since:      periodStart(s.now(), f.HoursAgo),
		Offset:     p.offset(),
		Limit:      int64(p.Size),
	}
	entries, total, err := s.store.Calls(ctx, q)
	if err != nil {
		return Result{}, fmt.Errorf("api logs: %w", err)
	}
	return Result{Entries: entries, Total: total}, nil
}

// Events returns page p of the events that f selects, newest first. The API
// calls, which have a log of their own, are left out unless f asks for
// their type. Invalid parameters fail as in RequestActions.
func (s *Service) Events(ctx context.Context, f EventFilter, p Page) (Result, error) {
	if fields := ValidateEvents(f, p); len(fields) > 0 {
		return Result{}, fieldsError(fields)
	}
	q := EventQuery{
		Type:    f.Type,
		Subject: f.Subject,
		ActorID: f.ActorID,
		Since:   f.Since.UTC(),
		Until:   f.Until.UTC(),
		Offset:  p.offset(),
		Limit:   int64(p.Size),
	}
	if q.Type == "" {
		q.ExcludeType = events.TypeAPIRequest
	}
	entries, total, err := s.store.Events(ctx, q)
	if err != nil {
		return Result{}, fmt.Errorf("events: %w", err)
	}
	return Result{Entries: entries, Total: total}, nil
}

// Stats summarises the last hoursAgo hours of the log. An invalid period
// fails as in RequestActions.
func (s *Service) Stats(ctx context.Context, hoursAgo int) (Stats, error) {
	if fields := ValidateHours(hoursAgo); len(fields) > 0 {
		return Stats{}, fieldsError(fields)
	}
	since := periodStart(s.now(), hoursAgo)
	classes := StatusClasses()
	c, err := s.store.Counts(ctx, since, classes)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	// Every class and action is listed, zeros included, so that clients
	// read a fixed shape.
	byClass := make(map[string]int64, len(classes))
	for _, sc := range classes {
		byClass[sc.Name] = c.ByStatusClass[sc.Name]
	}
	byAction := make(map[string]int64, len(actions))
	for _, a := range actions {
		byAction[a] = 0
	}
	for a, n := range c.ByAction {
		byAction[a] += n
	}
	c.ByStatusClass, c.ByAction = byClass, byAction

	st := Stats{PeriodHours: hoursAgo, Counts: c}
	if c.Calls == 0 {
		return st, nil
	}
	for _, pc := range []struct {
		p   int64
		dst **float64
	}{{50, &st.LatencyP50}, {95, &st.LatencyP95}} {
		v, ok, err := s.store.ProcessTimeAt(ctx, since, NearestRank(pc.p, c.Calls))
		if err != nil {
			return Stats{}, fmt.Errorf("stats: latency p%d: %w", pc.p, err)
		}
		if ok { // a call purged between the count and this read leaves it unknown
			*pc.dst = &v
		}
	}
	return st, nil
}
