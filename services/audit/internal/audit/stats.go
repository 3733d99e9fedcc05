package audit

import "time"

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

// Counts are the numbers of entries of a period.
type Counts struct {
	Total         int64            // entries of every type
	Calls         int64            // API calls
	Actions       int64            // ticket actions, reads included
	ByStatusClass map[string]int64 // API calls by StatusClass name
	ByAction      map[string]int64 // ticket actions by action
}

// Stats summarises the log of the last PeriodHours hours.
type Stats struct {
	PeriodHours int
	Counts
	// LatencyP50 and LatencyP95 are percentiles of the API calls' process
	// time, in seconds (nearest-rank method); nil when there was no call.
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
