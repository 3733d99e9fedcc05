package audit

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"
)

// StatusClass is a range of HTTP status codes counted together: From <=
// code < To.
type StatusClass struct {
	Name     string
	From, To int
}

var statusClasses = [...]StatusClass{
	{Name: "2xx", From: 200, To: 300},
	{Name: "3xx", From: 300, To: 400},
	{Name: "4xx", From: 400, To: 500},
	{Name: "5xx", From: 500, To: 600},
}

// StatusClasses returns the classes the statistics count API calls by.
func StatusClasses() []StatusClass { return append([]StatusClass(nil), statusClasses[:]...) }

// Counts are the numbers of entries of a period. An aggregate of refused
// calls counts as the calls it stands for (Entry.Weight).
type Counts struct {
	Total         int64            // entries of every type
	Calls         int64            // API calls
	Actions       int64            // ticket actions, reads included
	ByStatusClass map[string]int64 // API calls by StatusClass name
	ByAction      map[string]int64 // ticket actions by action
}

// Summary is what the statistics keep of a stretch of the log: its counts,
// and how many API calls took each process time (rounded, see
// RoundLatency). Summaries of adjacent stretches add up (Add).
type Summary struct {
	Counts
	Latency map[float64]int64
}

// NewSummary returns an empty Summary.
func NewSummary() Summary {
	return Summary{
		Counts:  Counts{ByStatusClass: map[string]int64{}, ByAction: map[string]int64{}},
		Latency: map[float64]int64{},
	}
}

// Add counts o into s.
func (s *Summary) Add(o Summary) {
	s.Total += o.Total
	s.Calls += o.Calls
	s.Actions += o.Actions
	for k, n := range o.ByStatusClass {
		s.ByStatusClass[k] += n
	}
	for k, n := range o.ByAction {
		s.ByAction[k] += n
	}
	for v, n := range o.Latency {
		s.Latency[v] += n
	}
}

// Count counts one entry into s, as a store's summary of the stored
// entries must.
func (s *Summary) Count(e Entry) {
	w := e.Weight()
	s.Total += w
	if e.Action != "" {
		s.Actions += w
		s.ByAction[e.Action] += w
	}
	if c := e.Call; c != nil {
		s.Calls += w
		s.ByStatusClass[c.StatusClass()] += w
		if l, ok := c.Latency(); ok {
			s.Latency[l] += w
		}
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of the latencies
// by the nearest-rank method, and false when there are none.
func (s Summary) Percentile(p int64) (float64, bool) {
	var n int64
	for _, c := range s.Latency {
		n += c
	}
	if n == 0 {
		return 0, false
	}
	rank := NearestRank(p, n)
	var seen int64
	for _, v := range slices.Sorted(maps.Keys(s.Latency)) {
		seen += s.Latency[v]
		if seen >= rank {
			return v, true
		}
	}
	return 0, false // not reached: seen ends at n >= rank
}

// Stats summarises the log of the last PeriodHours hours.
type Stats struct {
	PeriodHours int
	Counts
	// LatencyP50 and LatencyP95 are percentiles of the API calls' process
	// time, in seconds (nearest-rank method, over process times rounded to
	// two significant digits); nil when there was no call.
	LatencyP50 *float64
	LatencyP95 *float64
}

// NearestRank returns the 1-based rank, in ascending order, of the p-th
// percentile (0 < p <= 100) of n values by the nearest-rank method:
// ceil(p/100 * n), at least 1. Integer arithmetic keeps it exact.
func NearestRank(p, n int64) int64 {
	return max(1, (p*n+99)/100)
}

// periodStart returns the start of a period of hours ending now.
func periodStart(now time.Time, hours int) time.Time {
	return now.UTC().Add(-time.Duration(hours) * time.Hour)
}

// Rollup is the summary of one minute or one hour of the log, kept so
// that the statistics of a week read a few hundred summaries rather than
// every entry: each sealed hour of the period, each sealed minute of the
// hours at its edges, and the entries of what is left (under a minute at
// the start, and the last SealedAfter and the minute it ends in).
//
// A stretch is summarised once it is sealed: over for SealedAfter, so that
// entries still on their way have arrived. An entry that arrives later
// still (after an outage, or by replay) moves on the generation of its
// minute and hour when it is stored; a summary is valid only for the
// generation it was computed at, and is saved only if the generation has
// not moved meanwhile. So a late entry is never left out: the next
// statistics summarise its stretch again.
type Rollup struct {
	Span    time.Duration // time.Minute or time.Hour
	Start   time.Time     // UTC, a multiple of Span
	Gen     int64         // the stretch's generation now
	Summary *Summary      // nil when none is stored
	SumGen  int64         // the generation Summary was computed at
}

// Valid reports whether r holds a summary of its stretch as it is now.
func (r Rollup) Valid() bool { return r.Summary != nil && r.SumGen == r.Gen }

// SealedAfter is how long after its end a stretch is summarised for good.
const SealedAfter = 10 * time.Second

// LateAfter is how long after the end of its minute an entry that is
// stored counts as late, and makes the summaries of its minute and hour out
// of date. It is below SealedAfter by a margin, so that clocks a little
// apart never leave a late entry out of a summary.
const LateAfter = SealedAfter / 2

// lateBefore is the time before which an entry stored at now is late: the
// start of the minute now - LateAfter falls in.
func lateBefore(now time.Time) time.Time { return now.UTC().Add(-LateAfter).Truncate(time.Minute) }

// ceil rounds t up to a multiple of d.
func ceil(t time.Time, d time.Duration) time.Time {
	if f := t.Truncate(d); f.Before(t) {
		return f.Add(d)
	}
	return t
}

// summarize returns the summary of the entries with since <= time < now.
func (s *Service) summarize(ctx context.Context, since, now time.Time) (Summary, error) {
	total := NewSummary()
	raw := func(from, to time.Time) error {
		if !from.Before(to) {
			return nil
		}
		sum, err := s.store.Summarize(ctx, from, to)
		if err != nil {
			return err
		}
		total.Add(sum)
		return nil
	}
	// The sealed minutes of the period: [a, b).
	a, b := ceil(since, time.Minute), now.Add(-SealedAfter).Truncate(time.Minute)
	if !a.Before(b) {
		return total, raw(since, now)
	}
	if err := raw(since, a); err != nil {
		return Summary{}, err
	}
	if err := raw(b, now); err != nil {
		return Summary{}, err
	}
	// Whole hours in between, minutes at their edges.
	h0, h1 := ceil(a, time.Hour), b.Truncate(time.Hour)
	if !h0.Before(h1) {
		return total, s.rollup(ctx, &total, time.Minute, a, b)
	}
	for _, r := range []struct {
		span     time.Duration
		from, to time.Time
	}{{time.Minute, a, h0}, {time.Hour, h0, h1}, {time.Minute, h1, b}} {
		if err := s.rollup(ctx, &total, r.span, r.from, r.to); err != nil {
			return Summary{}, err
		}
	}
	return total, nil
}

// rollup adds to total the summaries of the stretches of span in [from,
// to): stored ones where valid, the others summarised from their entries
// and saved at the generation read before.
func (s *Service) rollup(ctx context.Context, total *Summary, span time.Duration, from, to time.Time) error {
	if !from.Before(to) {
		return nil
	}
	rollups, err := s.store.Rollups(ctx, span, from, to)
	if err != nil {
		return err
	}
	byStart := make(map[time.Time]Rollup, len(rollups))
	for _, r := range rollups {
		byStart[r.Start.UTC()] = r
	}
	for t := from; t.Before(to); t = t.Add(span) {
		r, ok := byStart[t]
		if ok && r.Valid() {
			total.Add(*r.Summary)
			continue
		}
		// r.Gen (0 when the stretch has no rollup yet) was read before the
		// entries are: a later touch makes SaveRollup refuse this summary.
		sum, err := s.store.Summarize(ctx, t, t.Add(span))
		if err != nil {
			return err
		}
		if err := s.store.SaveRollup(ctx, Rollup{Span: span, Start: t, Gen: r.Gen, Summary: &sum, SumGen: r.Gen}); err != nil {
			return fmt.Errorf("save the summary of %s: %w", t.Format(time.RFC3339), err)
		}
		total.Add(sum)
	}
	return nil
}
