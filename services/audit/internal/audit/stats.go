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
	// three significant digits); nil when there was no call.
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

// Rollup is the summary of one hour of the log, kept so that the
// statistics of a week read 168 summaries rather than every entry.
//
// An hour is summarised once it is sealed: over for longer than
// SealedAfter, so that entries still on their way have arrived. An entry
// that arrives later still (after an outage, or by replay) bumps its hour's
// generation (Store.Touch) after it is stored; a summary is valid only for
// the generation it was computed at, and a summary is saved only if the
// generation has not moved meanwhile. So a late entry is never missed: the
// next statistics summarise its hour again.
type Rollup struct {
	Hour    time.Time // start of the hour, UTC
	Gen     int64     // the hour's generation now
	Summary *Summary  // nil when none is stored
	SumGen  int64     // the generation Summary was computed at
}

// Valid reports whether r holds a summary of its hour as it is now.
func (r Rollup) Valid() bool { return r.Summary != nil && r.SumGen == r.Gen }

// SealedAfter is how long after its end an hour is summarised for good.
const SealedAfter = 2 * time.Minute

// LateAfter is how long after its hour's end an entry that is stored counts
// as late and touches its hour. It is below SealedAfter by a margin, so
// that clocks a little apart never leave a late entry out of a summary.
const LateAfter = SealedAfter / 2

// lateHours returns the hours, each once, of the entries that arrive late
// at now (see LateAfter).
func lateHours(entries []Entry, now time.Time) []time.Time {
	var hours []time.Time
	for _, e := range entries {
		h := e.Time.UTC().Truncate(time.Hour)
		if !h.Add(time.Hour+LateAfter).After(now) && !slices.ContainsFunc(hours, h.Equal) {
			hours = append(hours, h)
		}
	}
	return hours
}

// summarize returns the summary of the entries with since <= time < now:
// the stored summaries of the sealed hours in between (computing and
// saving those missing or out of date), and the entries of the edges.
func (s *Service) summarize(ctx context.Context, since, now time.Time) (Summary, error) {
	total := NewSummary()
	first := since.Truncate(time.Hour)
	if first.Before(since) {
		first = first.Add(time.Hour)
	}
	end := now.Add(-SealedAfter).Truncate(time.Hour) // end of the last sealed hour
	if !first.Before(end) {
		sum, err := s.store.Summarize(ctx, since, now)
		if err != nil {
			return Summary{}, err
		}
		return sum, nil
	}
	for _, edge := range [][2]time.Time{{since, first}, {end, now}} {
		if !edge[0].Before(edge[1]) {
			continue
		}
		sum, err := s.store.Summarize(ctx, edge[0], edge[1])
		if err != nil {
			return Summary{}, err
		}
		total.Add(sum)
	}
	rollups, err := s.store.Rollups(ctx, first, end)
	if err != nil {
		return Summary{}, err
	}
	byHour := make(map[time.Time]Rollup, len(rollups))
	for _, r := range rollups {
		byHour[r.Hour.UTC()] = r
	}
	for h := first; h.Before(end); h = h.Add(time.Hour) {
		r, ok := byHour[h]
		if ok && r.Valid() {
			total.Add(*r.Summary)
			continue
		}
		// r.Gen (0 when the hour has no rollup yet) was read before the
		// entries are: a later touch makes SaveRollup refuse this summary.
		sum, err := s.store.Summarize(ctx, h, h.Add(time.Hour))
		if err != nil {
			return Summary{}, err
		}
		if err := s.store.SaveRollup(ctx, Rollup{Hour: h, Gen: r.Gen, Summary: &sum, SumGen: r.Gen}); err != nil {
			return Summary{}, fmt.Errorf("save the summary of %s: %w", h.Format(time.RFC3339), err)
		}
		total.Add(sum)
	}
	return total, nil
}
