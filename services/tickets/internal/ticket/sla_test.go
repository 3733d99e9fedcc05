package ticket

import (
	"strings"
	"testing"
	"time"
)

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(DefaultPolicy)
	if err != nil {
		t.Fatal(err)
	}
	want := Policy{
		PriorityUrgent: {time.Hour, 4 * time.Hour},
		PriorityHigh:   {4 * time.Hour, 24 * time.Hour},
		PriorityNormal: {8 * time.Hour, 72 * time.Hour},
		PriorityLow:    {24 * time.Hour, 168 * time.Hour},
	}
	if len(p) != len(want) {
		t.Fatalf("default policy = %v, want %v", p, want)
	}
	for prio, targets := range want {
		if p[prio] != targets {
			t.Errorf("%s = %v, want %v", prio, p[prio], targets)
		}
	}
	if p, err := ParsePolicy(" high = 30m / 2h "); err != nil || len(p) != 1 || p[PriorityHigh] != (Targets{30 * time.Minute, 2 * time.Hour}) {
		t.Errorf("one priority with spaces = %v, %v", p, err)
	}
	if p, err := ParsePolicy("off"); err != nil || len(p) != 0 {
		t.Errorf("off = %v, %v; want no targets", p, err)
	}
	for in, wantErr := range map[string]string{
		"urgent=1h":                 "priority=first_response/resolution",
		"urgent":                    "priority=first_response/resolution",
		"critical=1h/4h":            "must be one of",
		"urgent=1h/4h,urgent=1h/5h": "given twice",
		"urgent=soon/4h":            "first-response target",
		"urgent=1h/-4h":             "resolution target",
		"urgent=0s/4h":              "first-response target",
		"urgent=4h/1h":              "shorter than",
		"":                          "priority=first_response/resolution",
	} {
		if _, err := ParsePolicy(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("ParsePolicy(%q) = %v, want an error saying %q", in, err, wantErr)
		}
	}
}

func TestClocks(t *testing.T) {
	policy := Policy{PriorityUrgent: {time.Hour, 4 * time.Hour}, PriorityNormal: {8 * time.Hour, 72 * time.Hour}}
	created := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	at := func(d time.Duration) *time.Time { x := created.Add(d); return &x }
	open := func(p Priority) Ticket {
		tk := Ticket{Status: StatusNew, Priority: p, CreatedAt: created}
		policy.startClocks(&tk)
		return tk
	}

	t.Run("a new ticket's clocks run from its creation", func(t *testing.T) {
		tk := open(PriorityUrgent)
		if tk.FirstResponseSLA != ClockPending || tk.ResolutionSLA != ClockPending ||
			!tk.FirstResponseDueAt.Equal(*at(time.Hour)) || !tk.ResolutionDueAt.Equal(*at(4 * time.Hour)) {
			t.Errorf("urgent ticket clocks = %+v", tk)
		}
		low := open(PriorityLow)
		if low.FirstResponseSLA != ClockNone || low.ResolutionSLA != ClockNone || low.FirstResponseDueAt != nil {
			t.Errorf("a priority without targets has clocks: %+v", low)
		}
	})

	t.Run("on time meets, late stays pending for the clock job", func(t *testing.T) {
		tk := open(PriorityUrgent)
		tk.FirstResponseAt = at(time.Hour) // exactly at the due time: met
		settleClocks(&tk)
		if tk.FirstResponseSLA != ClockMet {
			t.Errorf("a response at the due time: %s, want met", tk.FirstResponseSLA)
		}
		tk.Status, tk.ResolvedAt = StatusCompleted, at(4*time.Hour+time.Second)
		settleClocks(&tk)
		if tk.ResolutionSLA != ClockPending {
			t.Errorf("a resolution a second late: %s, want pending (the clock job breaches it)", tk.ResolutionSLA)
		}
	})

	t.Run("reopening runs the resolution clock again", func(t *testing.T) {
		tk := open(PriorityUrgent)
		tk.Status, tk.ResolvedAt = StatusCompleted, at(time.Hour)
		settleClocks(&tk)
		if tk.ResolutionSLA != ClockMet {
			t.Fatalf("resolved in time: %s, want met", tk.ResolutionSLA)
		}
		tk.Status = StatusInProgress
		settleClocks(&tk)
		if tk.ResolutionSLA != ClockPending {
			t.Errorf("reopened: %s, want pending", tk.ResolutionSLA)
		}
	})

	t.Run("a priority change recomputes from the creation time", func(t *testing.T) {
		tk := open(PriorityNormal)
		tk.FirstResponseAt = at(2 * time.Hour) // met for normal (8 h)
		settleClocks(&tk)
		tk.Priority = PriorityUrgent
		policy.startClocks(&tk)
		if !tk.FirstResponseDueAt.Equal(*at(time.Hour)) || !tk.ResolutionDueAt.Equal(*at(4 * time.Hour)) {
			t.Errorf("due times after the change to urgent: %v, %v", tk.FirstResponseDueAt, tk.ResolutionDueAt)
		}
		if tk.FirstResponseSLA != ClockPending {
			t.Errorf("a response after the new, shorter target: %s, want pending (to be breached)", tk.FirstResponseSLA)
		}
		tk.Priority = PriorityLow
		policy.startClocks(&tk)
		if tk.FirstResponseSLA != ClockNone || tk.FirstResponseDueAt != nil {
			t.Errorf("a change to a priority without targets keeps the clock: %+v", tk)
		}
	})

	t.Run("a breached clock stays breached", func(t *testing.T) {
		tk := open(PriorityUrgent)
		tk.FirstResponseSLA = ClockBreached
		tk.Priority = PriorityLow
		policy.startClocks(&tk)
		if tk.FirstResponseSLA != ClockBreached || !tk.FirstResponseDueAt.Equal(*at(time.Hour)) {
			t.Errorf("after a priority change: %s due %v, want breached at its old due time", tk.FirstResponseSLA, tk.FirstResponseDueAt)
		}
	})

	t.Run("SLA shows a passed due time as breached at once", func(t *testing.T) {
		tk := open(PriorityUrgent)
		before := tk.SLA(created.Add(59 * time.Minute))
		after := tk.SLA(created.Add(time.Hour))
		if before.FirstResponseBreached || !after.FirstResponseBreached || after.ResolutionBreached {
			t.Errorf("before the due time %+v, at it %+v", before, after)
		}
		tk.Status, tk.ResolvedAt = StatusInProgress, at(time.Minute)
		if s := tk.SLA(created); s.ResolvedAt != nil {
			t.Errorf("a ticket in progress shows resolved_at %v", s.ResolvedAt)
		}
		tk.Status = StatusClosed
		if s := tk.SLA(created); s.ResolvedAt == nil {
			t.Error("a closed ticket shows no resolved_at")
		}
	})
}
