package audit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/supportdesk/supportdesk/pkg/events"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// fieldsOf returns the names of the invalid fields of a validation fault.
func fieldsOf(tb testing.TB, err error) []string {
	tb.Helper()
	fe, ok := errors.AsType[*fault.Error](err)
	if !ok || fe.Kind != fault.Validation {
		tb.Fatalf("error = %v, want a validation fault", err)
	}
	var names []string
	for _, f := range fe.Fields {
		names = append(names, f.Field)
	}
	return names
}

func TestServiceAPILogs(t *testing.T) {
	tests := []struct {
		name string
		f    audit.CallFilter
		p    audit.Page
		want audit.Query
	}{
		{"defaults", audit.DefaultCallFilter(), audit.FirstPage(),
			audit.Query{Log: audit.CallEntries, Since: received.Add(-24 * time.Hour), Limit: 51, CountUpTo: 10_001}},
		{"every filter", audit.CallFilter{Method: "DELETE", StatusCode: 404, UserID: 9, HoursAgo: 168}, audit.Page{Number: 2, Size: 1000},
			audit.Query{Log: audit.CallEntries, Method: "DELETE", StatusCode: 404, ActorID: "9", Since: received.Add(-168 * time.Hour),
				Offset: 1000, Limit: 1001, CountUpTo: 10_001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{listing: audit.Listing{Entries: []audit.Entry{{EventID: "a"}}, Counted: true, Total: 3}}
			res, err := audit.NewService(store, clock).APILogs(context.Background(), tt.f, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.Query{tt.want}, store.queries); diff != "" {
				t.Errorf("store query (-want +got):\n%s", diff)
			}
			if res.Total != 3 || len(res.Entries) != 1 {
				t.Errorf("result = %+v", res)
			}
		})
	}
	store := &fakeStore{}
	_, err := audit.NewService(store, clock).APILogs(context.Background(),
		audit.CallFilter{Method: "FETCH", StatusCode: 99, UserID: -1, HoursAgo: 0}, audit.Page{Number: 1, Size: 1001})
	if diff := cmp.Diff([]string{"size", "method", "status_code", "user_id", "hours_ago"}, fieldsOf(t, err)); diff != "" {
		t.Errorf("invalid fields (-want +got):\n%s", diff)
	}
	if len(store.queries) != 0 {
		t.Error("an invalid query reached the store")
	}
}

func TestValidateCalls(t *testing.T) {
	ok := audit.DefaultCallFilter()
	for _, tt := range []struct {
		name  string
		f     audit.CallFilter
		field string
	}{
		{"defaults", ok, ""},
		{"GET", audit.CallFilter{Method: "GET", HoursAgo: 1}, ""},
		{"OPTIONS", audit.CallFilter{Method: "OPTIONS", HoursAgo: 1}, ""},
		{"lower case", audit.CallFilter{Method: "get", HoursAgo: 1}, "method"},
		{"status 100", audit.CallFilter{StatusCode: 100, HoursAgo: 1}, ""},
		{"status 599", audit.CallFilter{StatusCode: 599, HoursAgo: 1}, ""},
		{"status 600", audit.CallFilter{StatusCode: 600, HoursAgo: 1}, "status_code"},
		{"status -1", audit.CallFilter{StatusCode: -1, HoursAgo: 1}, "status_code"},
		{"hours 169", audit.CallFilter{HoursAgo: 169}, "hours_ago"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := audit.ValidateCalls(tt.f, audit.FirstPage())
			switch {
			case tt.field == "" && len(got) != 0:
				t.Errorf("ValidateCalls = %+v, want valid", got)
			case tt.field != "" && (len(got) != 1 || got[0].Field != tt.field):
				t.Errorf("ValidateCalls = %+v, want one error on %s", got, tt.field)
			}
		})
	}
}

func TestServiceEvents(t *testing.T) {
	since := time.Date(2026, 3, 1, 0, 0, 0, 0, time.FixedZone("X", 3600))
	until := since.Add(48 * time.Hour)
	tests := []struct {
		name string
		f    audit.EventFilter
		want audit.Query
	}{
		{"no filter leaves out API calls", audit.EventFilter{},
			audit.Query{Log: audit.NotCallEntries, Limit: 51, CountUpTo: 10_001}},
		{"by type, API calls included when asked", audit.EventFilter{Type: events.TypeAPIRequest},
			audit.Query{Log: audit.AllEntries, Type: events.TypeAPIRequest, Limit: 51, CountUpTo: 10_001}},
		{"every filter, times in UTC", audit.EventFilter{Type: events.TypeUserRegistered, Subject: "USR000001", ActorID: "7", Since: since, Until: until},
			audit.Query{Type: events.TypeUserRegistered, Subject: "USR000001", ActorID: "7", Since: since.UTC(), Until: until.UTC(), Limit: 51, CountUpTo: 10_001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			if _, err := audit.NewService(store, clock).Events(context.Background(), tt.f, audit.FirstPage()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.Query{tt.want}, store.queries); diff != "" {
				t.Errorf("store query (-want +got):\n%s", diff)
			}
		})
	}
	for _, tt := range []struct {
		name   string
		f      audit.EventFilter
		fields []string
	}{
		{"until before since", audit.EventFilter{Since: until, Until: since}, []string{"until"}},
		{"until equal to since", audit.EventFilter{Since: since, Until: since}, []string{"until"}},
		{"long filters", audit.EventFilter{Type: strings.Repeat("t", 201), Subject: strings.Repeat("s", 201), ActorID: strings.Repeat("a", 201)},
			[]string{"type", "subject", "actor_id"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			_, err := audit.NewService(store, clock).Events(context.Background(), tt.f, audit.FirstPage())
			if diff := cmp.Diff(tt.fields, fieldsOf(t, err)); diff != "" {
				t.Errorf("invalid fields (-want +got):\n%s", diff)
			}
			if len(store.queries) != 0 {
				t.Error("an invalid query reached the store")
			}
		})
	}
}

func TestNearestRank(t *testing.T) {
	for _, tt := range []struct{ p, n, want int64 }{
		{50, 1, 1}, {95, 1, 1},
		{50, 2, 1}, {95, 2, 2},
		{50, 4, 2}, {95, 4, 4},
		{50, 10, 5}, {95, 10, 10},
		{50, 20, 10}, {95, 20, 19},
		{50, 21, 11}, {95, 21, 20},
		{95, 100, 95}, {95, 101, 96},
		{100, 7, 7}, {1, 7, 1},
	} {
		if got := audit.NearestRank(tt.p, tt.n); got != tt.want {
			t.Errorf("NearestRank(%d, %d) = %d, want %d", tt.p, tt.n, got, tt.want)
		}
	}
}

func TestSummaryPercentile(t *testing.T) {
	sum := audit.NewSummary()
	if _, ok := sum.Percentile(50); ok {
		t.Error("a percentile of no calls")
	}
	// 20 calls: p50 is the 10th smallest time, p95 the 19th; equal times
	// share a count.
	for _, v := range []float64{.01, .02, .03, .04, .05, .06, .07, .08, .09, .10, .11, .12, .13, .14, .15, .16, .17, .18, .19, 2.5} {
		sum.Latency[v]++
	}
	for p, want := range map[int64]float64{50: .10, 95: .19, 100: 2.5, 1: .01} {
		if got, ok := sum.Percentile(p); !ok || got != want {
			t.Errorf("p%d = %v, %v; want %v", p, got, ok, want)
		}
	}
	sum = audit.NewSummary()
	sum.Latency[0.5] = 3
	sum.Latency[0.1] = 1
	if got, _ := sum.Percentile(50); got != 0.5 {
		t.Errorf("p50 of 0.1, 0.5 x3 = %v, want 0.5", got)
	}
}

func TestRoundLatency(t *testing.T) {
	for in, want := range map[float64]float64{0.012345: 0.012, 0.25: 0.25, 1.5: 1.5, 123.456: 120, 0.0004567: 0.00046, 0.0995: 0.1, 0: 0, -1: 0} {
		if got := audit.RoundLatency(in); got != want {
			t.Errorf("RoundLatency(%v) = %v, want %v", in, got, want)
		}
	}
}

// TestServiceStatsWindows: the statistics of a period read the stored
// summary of each sealed hour, and of each sealed minute of the hours at its
// edges; they summarise (and save) those missing or out of date at the
// generation read, and read the entries of what is left.
func TestServiceStatsWindows(t *testing.T) {
	// received is 15:09:27; hours_ago 3 starts at 12:09:27. Sealed
	// minutes: 12:10 to 15:09 (15:09:27 less 10 s, down to the minute).
	at := func(h, m int) time.Time { return time.Date(2026, 3, 14, h, m, 0, 0, time.UTC) }
	one := audit.NewSummary()
	one.Total, one.Calls = 1, 1
	one.ByStatusClass["2xx"] = 1
	one.Latency[0.1] = 1
	one.ByAction["merge_requests"] = 1 // an action the domain does not name yet
	valid := one
	store := &fakeStore{
		summary: func(from, to time.Time) audit.Summary {
			s := audit.NewSummary()
			s.Add(one)
			return s
		},
		rollups: map[time.Duration][]audit.Rollup{
			time.Hour: {
				{Span: time.Hour, Start: at(13, 0), Gen: 2, Summary: &valid, SumGen: 2}, // valid: read
				{Span: time.Hour, Start: at(14, 0), Gen: 3, Summary: &valid, SumGen: 2}, // out of date: summarised again
			},
			time.Minute: {
				{Span: time.Minute, Start: at(12, 30), Gen: 1, Summary: &valid, SumGen: 1}, // valid: read
			},
		},
	}
	got, err := audit.NewService(store, clock).Stats(context.Background(), 3)
	if err != nil {
		t.Fatal(err)
	}
	start := received.Add(-3 * time.Hour)
	// The edges' entries, then the minutes 12:10 to 12:59 but 12:30, the
	// hour 14:00, the minutes 15:00 to 15:08.
	want := [][2]time.Time{{start, at(12, 10)}, {at(15, 9), received}}
	for m := 10; m < 60; m++ {
		if m != 30 {
			want = append(want, [2]time.Time{at(12, m), at(12, m+1)})
		}
	}
	want = append(want, [2]time.Time{at(14, 0), at(15, 0)})
	for m := range 9 {
		want = append(want, [2]time.Time{at(15, m), at(15, m+1)})
	}
	if diff := cmp.Diff(want, store.summaries); diff != "" {
		t.Errorf("ranges summarised (-want +got):\n%s", diff)
	}
	if len(store.kept) != 59 {
		t.Errorf("%d summaries saved, want 59 (49 + 9 minutes, 1 hour)", len(store.kept))
	}
	for _, k := range store.kept {
		if k.Span == time.Hour && (!k.Start.Equal(at(14, 0)) || k.Gen != 3 || k.SumGen != 3) {
			t.Errorf("hour summary saved = %+v, want 14:00 at generation 3", k)
		}
	}
	// 2 edges + 58 minutes + 1 hour summarised, 1 minute + 1 hour read.
	if got.Total != 63 || got.Calls != 63 || got.ByStatusClass["2xx"] != 63 || *got.LatencyP50 != 0.1 ||
		got.ByAction["merge_requests"] != 63 || got.ByAction["view_request"] != 0 || len(got.ByAction) != len(audit.Actions())+1 {
		t.Errorf("stats = %+v", got)
	}

	// Within SealedAfter of the minute's end, the entries are read.
	store = &fakeStore{}
	now := at(15, 0).Add(5 * time.Second)
	if _, err := audit.NewService(store, func() time.Time { return now }).Stats(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	if len(store.summaries) != 60 || store.summaries[1] != [2]time.Time{at(14, 59), now} {
		t.Errorf("one hour, 5 s into a minute: %d ranges, the open tail %v", len(store.summaries), store.summaries[1])
	}

	for _, bad := range []int{0, 169, -1} {
		t.Run(fmt.Sprintf("hours_ago %d", bad), func(t *testing.T) {
			store := &fakeStore{}
			_, err := audit.NewService(store, clock).Stats(context.Background(), bad)
			if diff := cmp.Diff([]string{"hours_ago"}, fieldsOf(t, err)); diff != "" {
				t.Errorf("invalid fields (-want +got):\n%s", diff)
			}
			if len(store.summaries) != 0 {
				t.Error("an invalid query reached the store")
			}
		})
	}
}

// fakeExpirer holds entry times, oldest first, and records the purges
// asked of it. A stalled one answers no deletion until its context ends
// (or 5 s, for a test to fail rather than hang).
type fakeExpirer struct {
	mu      sync.Mutex
	times   []time.Time
	cutoffs []time.Time
	err     error
	stalled bool
	calls   chan struct{}
}

func (e *fakeExpirer) NthOldest(_ context.Context, n int) (time.Time, bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if n > len(e.times) {
		return time.Time{}, false, nil
	}
	return e.times[n-1], true, nil
}

func (e *fakeExpirer) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	select {
	case e.calls <- struct{}{}:
	default:
	}
	if e.stalled {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(5 * time.Second):
			return 0, errors.New("stalled past the test's patience")
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.cutoffs = append(e.cutoffs, t)
	if e.err != nil {
		return 0, e.err
	}
	kept := slices.DeleteFunc(e.times, func(at time.Time) bool { return at.Before(t) })
	n := len(e.times) - len(kept)
	e.times = kept
	return int64(n), nil
}

func TestPurger(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		ex := &fakeExpirer{}
		p := &audit.Purger{Store: ex, Keep: 90 * 24 * time.Hour, Every: time.Hour, Now: clock}
		n, err := p.PurgeOnce(context.Background())
		if err != nil || n != 0 {
			t.Fatalf("PurgeOnce = %d, %v", n, err)
		}
		if diff := cmp.Diff([]time.Time{received.Add(-90 * 24 * time.Hour)}, ex.cutoffs); diff != "" {
			t.Errorf("cutoff (-want +got):\n%s", diff)
		}
	})
	t.Run("oldest first, a batch a step", func(t *testing.T) {
		ago := func(d time.Duration) time.Time { return received.Add(-d) }
		ex := &fakeExpirer{times: []time.Time{ago(5 * time.Hour), ago(5 * time.Hour), ago(4 * time.Hour), ago(3 * time.Hour),
			ago(2 * time.Hour), ago(30 * time.Minute)}}
		p := &audit.Purger{Store: ex, Keep: time.Hour, Every: time.Hour, Now: clock, Batch: 2}
		n, err := p.PurgeOnce(context.Background())
		if err != nil || n != 5 {
			t.Fatalf("PurgeOnce = %d, %v; want the 5 entries older than an hour", n, err)
		}
		// Up to and including the second oldest (and its millisecond),
		// twice; then the one left before the cutoff.
		want := []time.Time{ago(5*time.Hour - time.Millisecond), ago(3*time.Hour - time.Millisecond), ago(time.Hour)}
		if diff := cmp.Diff(want, ex.cutoffs); diff != "" {
			t.Errorf("steps (-want +got):\n%s", diff)
		}
		if len(ex.times) != 1 {
			t.Errorf("%d entries left, want the one of half an hour ago", len(ex.times))
		}
	})
	t.Run("a stalled step gives up at its timeout", func(t *testing.T) {
		ex := &fakeExpirer{stalled: true}
		p := &audit.Purger{Store: ex, Keep: time.Hour, Every: time.Hour, Now: clock, StepTimeout: 50 * time.Millisecond}
		if _, err := p.PurgeOnce(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("PurgeOnce on a stalled store = %v, want the step's deadline", err)
		}
	})
	t.Run("runs at once, then every interval, even after a failure, until stopped", func(t *testing.T) {
		ex := &fakeExpirer{err: errors.New("down"), calls: make(chan struct{}, 1)}
		p := &audit.Purger{Store: ex, Keep: time.Hour, Every: 10 * time.Millisecond, Now: clock,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); p.Run(ctx) }()
		for range 3 {
			select {
			case <-ex.calls:
			case <-time.After(5 * time.Second):
				t.Fatal("the purger did not run again")
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after cancel")
		}
	})
}

func TestRetentionString(t *testing.T) {
	for r, want := range map[audit.Retention]string{audit.KeepForever: "keep forever", audit.ByTTL: "TTL index", audit.ByPurge: "periodic purge"} {
		if r.String() != want {
			t.Errorf("%d.String() = %q, want %q", r, r.String(), want)
		}
	}
}
