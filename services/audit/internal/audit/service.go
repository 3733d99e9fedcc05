package audit

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Store keeps entries and dead letters. It only ever adds entries: nothing
// the service does changes or removes a stored entry (retention aside, see
// Purger).
type Store interface {
	// SaveBatch stores entries, each at most once, and reports what became
	// of each, in order (see Saved). An error means the batch may be
	// partly stored; saving it again is safe. For each entry older than
	// late it moves on the generation of the entry's minute and hour (see
	// Rollup): in the same transaction as the entry where the database has
	// them, else after the insert, for stored and already stored entries
	// alike.
	SaveBatch(ctx context.Context, entries []Entry, late time.Time) ([]Saved, error)
	// SaveDeadLetter stores d.
	SaveDeadLetter(ctx context.Context, d DeadLetter) error
	// List returns the entries q selects, newest first (ties broken by
	// event id, descending), and counts them when q asks.
	List(ctx context.Context, q Query) (Listing, error)
	// Summarize summarises the entries with from <= time < to.
	Summarize(ctx context.Context, from, to time.Time) (Summary, error)
	// Rollups returns the stored rollups of the given span (time.Minute
	// or time.Hour) that start from <= start < to; a stretch without one
	// is missing.
	Rollups(ctx context.Context, span time.Duration, from, to time.Time) ([]Rollup, error)
	// SaveRollup stores r's summary unless the generation of its stretch
	// is no longer r.Gen, in which case it stores nothing and succeeds.
	SaveRollup(ctx context.Context, r Rollup) error
	// Touch moves on the generation of the minute and of the hour of each
	// time, so that their stored summaries, if any, are out of date.
	Touch(ctx context.Context, times []time.Time) error
}

// Saved is what SaveBatch did with one entry: stored it (New), found its
// event id stored already (neither), or refused it for good (Err, which
// wraps ErrInvalidEvent).
type Saved struct {
	New bool
	Err error
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

// Recorded is what recording one event did: stored it (New), found it
// stored already (neither), or failed (Err). An Err that wraps
// ErrInvalidEvent is for good; any other is worth a retry.
type Recorded struct {
	New bool
	Err error
}

// RecordBatch stores the entries of evs, each at most once, with one write
// for the batch, and reports what became of each event, in order. Recording
// an event that is already stored succeeds and reports it as not new.
func (s *Service) RecordBatch(ctx context.Context, evs []events.Event) []Recorded {
	out := make([]Recorded, len(evs))
	now := s.now()
	entries := make([]Entry, 0, len(evs))
	index := make([]int, 0, len(evs)) // entries[k] is evs[index[k]]
	for i, ev := range evs {
		e, err := NewEntry(ev, now)
		if err != nil {
			out[i].Err = err
			continue
		}
		entries = append(entries, e)
		index = append(index, i)
	}
	if len(entries) == 0 {
		return out
	}
	// Entries of stretches that may be summarised already make those
	// summaries out of date.
	saved, err := s.store.SaveBatch(ctx, entries, lateBefore(now))
	if err == nil && len(saved) != len(entries) {
		err = fmt.Errorf("store reported %d outcomes for %d entries", len(saved), len(entries))
	}
	if err != nil {
		err = fmt.Errorf("record %d events: %w", len(entries), err)
		for _, i := range index {
			out[i].Err = err
		}
		return out
	}
	for k, i := range index {
		out[i] = Recorded{New: saved[k].New, Err: saved[k].Err}
	}
	return out
}

// Record stores ev and reports whether it was new: RecordBatch of one.
func (s *Service) Record(ctx context.Context, ev events.Event) (bool, error) {
	r := s.RecordBatch(ctx, []events.Event{ev})[0]
	return r.New, r.Err
}

// RecordDeadLetter stores d, stamped with the time it was received.
func (s *Service) RecordDeadLetter(ctx context.Context, d DeadLetter) error {
	d.ReceivedAt = s.now().UTC()
	if err := s.store.SaveDeadLetter(ctx, d); err != nil {
		return fmt.Errorf("record dead letter from %s: %w", d.Subject, err)
	}
	return nil
}

// Result is one page of entries, how many entries there are on all pages
// when the page was counted, and where the next page starts.
type Result struct {
	Entries []Entry
	Counted bool  // false for a page reached by cursor
	Total   int64 // exact, or the lower bound CountLimit when Capped
	Capped  bool
	Next    *Cursor // nil on the last page
}

// list runs q for page p: one entry more than the page holds tells whether
// another page follows; a page by number is counted up to CountLimit.
func (s *Service) list(ctx context.Context, q Query, p Page) (Result, error) {
	q.After, q.Offset, q.Limit = p.After, p.offset(), int64(p.Size)+1
	if p.After == nil {
		q.CountUpTo = CountLimit + 1
	}
	l, err := s.store.List(ctx, q)
	if err != nil {
		return Result{}, err
	}
	res := Result{Entries: l.Entries, Counted: l.Counted, Total: l.Total}
	if res.Counted && res.Total > CountLimit {
		res.Total, res.Capped = CountLimit, true
	}
	if len(res.Entries) > p.Size {
		res.Entries = res.Entries[:p.Size]
		next := CursorOf(res.Entries[p.Size-1])
		res.Next = &next
	}
	return res, nil
}

// RequestActions returns page p of the actions on tickets that f selects,
// reads included, newest first. Invalid parameters fail with a
// fault.Validation error naming each bad field.
func (s *Service) RequestActions(ctx context.Context, f Filter, p Page) (Result, error) {
	q := Query{Log: ActionEntries, RequestID: f.RequestID, Action: f.Action, ActorID: userActor(f.UserID),
		Since: periodStart(s.now(), f.HoursAgo)}
	return s.listValid(ctx, "request actions", Validate(f, p), q, p)
}

// APILogs returns page p of the API calls that f selects, newest first.
// Invalid parameters fail as in RequestActions.
func (s *Service) APILogs(ctx context.Context, f CallFilter, p Page) (Result, error) {
	q := Query{Log: CallEntries, Method: f.Method, StatusCode: f.StatusCode, ActorID: userActor(f.UserID),
		Since: periodStart(s.now(), f.HoursAgo)}
	return s.listValid(ctx, "api logs", ValidateCalls(f, p), q, p)
}

// Events returns page p of the events that f selects, newest first. The API
// calls, which have a log of their own, are left out unless f asks for
// their type. Invalid parameters fail as in RequestActions.
func (s *Service) Events(ctx context.Context, f EventFilter, p Page) (Result, error) {
	q := Query{Log: NotCallEntries, Type: f.Type, Subject: f.Subject, ActorID: f.ActorID,
		Since: f.Since.UTC(), Until: f.Until.UTC()}
	if q.Type != "" {
		q.Log = AllEntries
	}
	return s.listValid(ctx, "events", ValidateEvents(f, p), q, p)
}

// listValid runs q for page p of the log named what, unless invalid names
// parameters out of bounds.
func (s *Service) listValid(ctx context.Context, what string, invalid []fault.FieldError, q Query, p Page) (Result, error) {
	if len(invalid) > 0 {
		return Result{}, fault.Fields(invalid...)
	}
	res, err := s.list(ctx, q, p)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", what, err)
	}
	return res, nil
}

// userActor is the stored actor of a user id; "" for 0, which does not
// filter.
func userActor(id int64) string {
	if id == 0 {
		return ""
	}
	return fmt.Sprint(id)
}

// Stats summarises the last hoursAgo hours of the log. An invalid period
// fails as in RequestActions.
func (s *Service) Stats(ctx context.Context, hoursAgo int) (Stats, error) {
	if invalid := ValidateHours(hoursAgo); len(invalid) > 0 {
		return Stats{}, fault.Fields(invalid...)
	}
	now := s.now().UTC()
	sum, err := s.summarize(ctx, periodStart(now, hoursAgo), now)
	if err != nil {
		return Stats{}, fmt.Errorf("stats: %w", err)
	}
	// Every class and action is listed, zeros included, so that clients
	// read a fixed shape.
	c := sum.Counts
	byClass := make(map[string]int64, len(statusClasses))
	for _, sc := range statusClasses {
		byClass[sc.Name] = c.ByStatusClass[sc.Name]
	}
	byAction := maps.Clone(c.ByAction) // an action the domain does not name yet is kept
	for _, a := range actions {
		byAction[a] += 0
	}
	c.ByStatusClass, c.ByAction = byClass, byAction

	st := Stats{PeriodHours: hoursAgo, Counts: c}
	if v, ok := sum.Percentile(50); ok {
		st.LatencyP50 = &v
	}
	if v, ok := sum.Percentile(95); ok {
		st.LatencyP95 = &v
	}
	return st, nil
}
