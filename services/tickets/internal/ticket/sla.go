package ticket

import (
	"fmt"
	"strings"
	"time"
)

// Targets are the SLA targets of a priority: the longest a ticket may wait,
// from its creation, for a first response and for its resolution.
type Targets struct {
	FirstResponse time.Duration
	Resolution    time.Duration
}

// Policy maps priorities to their targets. A priority it leaves out has no
// SLA clocks.
type Policy map[Priority]Targets

// DefaultPolicy is SLA_POLICY's default.
const DefaultPolicy = "urgent=1h/4h,high=4h/24h,normal=8h/72h,low=24h/168h"

// ParsePolicy reads an SLA_POLICY: comma-separated priority=first/resolution
// pairs of Go durations, e.g. "urgent=1h/4h,low=24h/168h". "off" is a policy
// without targets.
func ParsePolicy(s string) (Policy, error) {
	p := Policy{}
	if strings.TrimSpace(s) == "off" {
		return p, nil
	}
	for part := range strings.SplitSeq(s, ",") {
		name, targets, ok := strings.Cut(strings.TrimSpace(part), "=")
		first, resolution, ok2 := strings.Cut(targets, "/")
		if !ok || !ok2 {
			return nil, fmt.Errorf("%q is not priority=first_response/resolution (e.g. urgent=1h/4h)", part)
		}
		prio := Priority(strings.TrimSpace(name))
		if _, fe := checkPriority(string(prio)); fe != nil {
			return nil, fmt.Errorf("%q: %s", part, fe.Message)
		}
		if _, dup := p[prio]; dup {
			return nil, fmt.Errorf("%q: priority %s is given twice", part, prio)
		}
		var t Targets
		var err error
		if t.FirstResponse, err = time.ParseDuration(strings.TrimSpace(first)); err != nil || t.FirstResponse <= 0 {
			return nil, fmt.Errorf("%q: the first-response target must be a positive Go duration such as 4h", part)
		}
		if t.Resolution, err = time.ParseDuration(strings.TrimSpace(resolution)); err != nil || t.Resolution <= 0 {
			return nil, fmt.Errorf("%q: the resolution target must be a positive Go duration such as 24h", part)
		}
		if t.Resolution < t.FirstResponse {
			return nil, fmt.Errorf("%q: the resolution target is shorter than the first-response target", part)
		}
		p[prio] = t
	}
	return p, nil
}

// Clock is the state of one SLA clock of a ticket.
type Clock string

// The clock states. A breached clock stays breached: its event is published
// once.
const (
	ClockNone     Clock = "none" // no target for the ticket's priority
	ClockPending  Clock = "pending"
	ClockMet      Clock = "met"
	ClockBreached Clock = "breached"
)

// ClockKind names a ticket's two clocks, as support.ticket.sla_breached.v1
// carries them in data.kind.
type ClockKind string

// The two clocks.
const (
	FirstResponse ClockKind = "first_response"
	Resolution    ClockKind = "resolution"
)

// resolved reports whether the ticket counts as resolved: completed or
// closed.
func (t Ticket) resolved() bool { return t.Status == StatusCompleted || t.Status == StatusClosed }

// startClocks sets the due times of a ticket from its creation time and
// the targets of its priority, and starts (again) every clock that is not
// breached. A priority without targets stops them.
func (p Policy) startClocks(t *Ticket) {
	targets, ok := p[t.Priority]
	clocks := []struct {
		state  *Clock
		due    **time.Time
		target time.Duration
	}{
		{&t.FirstResponseSLA, &t.FirstResponseDueAt, targets.FirstResponse},
		{&t.ResolutionSLA, &t.ResolutionDueAt, targets.Resolution},
	}
	for _, c := range clocks {
		switch {
		case *c.state == ClockBreached:
		case !ok:
			*c.state, *c.due = ClockNone, nil
		default:
			due := t.CreatedAt.Add(c.target)
			*c.state, *c.due = ClockPending, &due
		}
	}
	settleClocks(t)
}

// settleClocks brings a ticket's clocks up to date with what happened to
// it: a response or resolution by the due time meets its clock; a reopened
// ticket's resolution clock runs again. A response or resolution after the
// due time leaves the clock pending, and the clock job marks it breached.
func settleClocks(t *Ticket) {
	onTime := func(at, due *time.Time) bool { return at != nil && due != nil && !at.After(*due) }
	if t.FirstResponseSLA == ClockPending && onTime(t.FirstResponseAt, t.FirstResponseDueAt) {
		t.FirstResponseSLA = ClockMet
	}
	switch {
	case t.ResolutionSLA == ClockPending && t.resolved() && onTime(t.ResolvedAt, t.ResolutionDueAt):
		t.ResolutionSLA = ClockMet
	case t.ResolutionSLA == ClockMet && !t.resolved():
		t.ResolutionSLA = ClockPending
	}
}

// SLA is what a ticket shows of its clocks at a time.
type SLA struct {
	FirstResponseDueAt    *time.Time
	ResolutionDueAt       *time.Time
	FirstResponseAt       *time.Time
	ResolvedAt            *time.Time // set while the ticket is completed or closed
	FirstResponseBreached bool
	ResolutionBreached    bool
}

// SLA returns the ticket's clocks as of now. A clock whose due time has
// passed unmet shows as breached at once, before the clock job marks it.
func (t Ticket) SLA(now time.Time) SLA {
	breached := func(state Clock, due *time.Time) bool {
		return state == ClockBreached || (state == ClockPending && due != nil && !now.Before(*due))
	}
	s := SLA{
		FirstResponseDueAt: t.FirstResponseDueAt, ResolutionDueAt: t.ResolutionDueAt,
		FirstResponseAt:       t.FirstResponseAt,
		FirstResponseBreached: breached(t.FirstResponseSLA, t.FirstResponseDueAt),
		ResolutionBreached:    breached(t.ResolutionSLA, t.ResolutionDueAt),
	}
	if t.resolved() {
		s.ResolvedAt = t.ResolvedAt
	}
	return s
}

// SLAFilter selects tickets by their clocks (the staff lists' sla).
type SLAFilter string

// The SLA filters. At risk: not breached, and a running clock has less than
// a quarter of its target left. OK: neither breached nor at risk (tickets
// without clocks included).
const (
	SLABreached SLAFilter = "breached"
	SLAAtRisk   SLAFilter = "at_risk"
	SLAOK       SLAFilter = "ok"
)

// Valid reports whether f is one of the three filters.
func (f SLAFilter) Valid() bool { return f == SLABreached || f == SLAAtRisk || f == SLAOK }
