package audit_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
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
		want audit.CallQuery
	}{
		{"defaults", audit.DefaultCallFilter(), audit.FirstPage(),
			audit.CallQuery{Since: received.Add(-24 * time.Hour), Limit: 50}},
		{"every filter", audit.CallFilter{Method: "DELETE", StatusCode: 404, UserID: 9, HoursAgo: 168}, audit.Page{Number: 2, Size: 1000},
			audit.CallQuery{Method: "DELETE", StatusCode: 404, ActorID: 9, Since: received.Add(-168 * time.Hour), Offset: 1000, Limit: 1000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{entries: []audit.Entry{{EventID: "a"}}, total: 3}
			res, err := audit.NewService(store, clock).APILogs(context.Background(), tt.f, tt.p)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.CallQuery{tt.want}, store.callQueries); diff != "" {
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
	if len(store.callQueries) != 0 {
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
		want audit.EventQuery
	}{
		{"no filter leaves out API calls", audit.EventFilter{},
			audit.EventQuery{ExcludeType: events.TypeAPIRequest, Limit: 50}},
		{"by type, API calls included when asked", audit.EventFilter{Type: events.TypeAPIRequest},
			audit.EventQuery{Type: events.TypeAPIRequest, Limit: 50}},
		{"every filter, times in UTC", audit.EventFilter{Type: events.TypeUserRegistered, Subject: "USR000001", ActorID: "7", Since: since, Until: until},
			audit.EventQuery{Type: events.TypeUserRegistered, Subject: "USR000001", ActorID: "7", Since: since.UTC(), Until: until.UTC(), Limit: 50}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{}
			if _, err := audit.NewService(store, clock).Events(context.Background(), tt.f, audit.FirstPage()); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]audit.EventQuery{tt.want}, store.eventQueries); diff != "" {
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
			if len(store.eventQueries) != 0 {
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

func TestServiceStats(t *testing.T) {
	allActions := func(set map[string]int64) map[string]int64 {
		m := map[string]int64{}
		for _, a := range audit.Actions() {
			m[a] = set[a]
		}
		return m
	}
	tests := []struct {
		name      string
		counts    audit.Counts
		times     []float64
		wantRanks []int64
		want      audit.Stats
	}{
		{
			name:   "empty period: zeros everywhere, no latency",
			counts: audit.Counts{},
			want: audit.Stats{PeriodHours: 24, Counts: audit.Counts{
				ByStatusClass: map[string]int64{"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
				ByAction:      allActions(nil),
			}},
		},
		{
			// 20 calls: p50 is the 10th smallest time, p95 the 19th.
			name: "twenty calls",
			counts: audit.Counts{Total: 31, Calls: 20, Actions: 5,
				ByStatusClass: map[string]int64{"2xx": 15, "4xx": 4, "5xx": 1},
				ByAction:      map[string]int64{"create_request": 2, "view_request": 3}},
			times:     []float64{.01, .02, .03, .04, .05, .06, .07, .08, .09, .10, .11, .12, .13, .14, .15, .16, .17, .18, .19, 2.5},
			wantRanks: []int64{10, 19},
			want: audit.Stats{PeriodHours: 24, Counts: audit.Counts{Total: 31, Calls: 20, Actions: 5,
				ByStatusClass: map[string]int64{"2xx": 15, "3xx": 0, "4xx": 4, "5xx": 1},
				ByAction:      allActions(map[string]int64{"create_request": 2, "view_request": 3})},
				LatencyP50: ptr(.10), LatencyP95: ptr(.19)},
		},
		{
			name:      "a new action the domain does not name yet is kept",
			counts:    audit.Counts{Total: 1, Calls: 1, ByAction: map[string]int64{"merge_requests": 1}},
			times:     []float64{0.5},
			wantRanks: []int64{1, 1},
			want: audit.Stats{PeriodHours: 24, Counts: audit.Counts{Total: 1, Calls: 1,
				ByStatusClass: map[string]int64{"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
				ByAction: func() map[string]int64 {
					m := allActions(nil)
					m["merge_requests"] = 1
					return m
				}()},
				LatencyP50: ptr(0.5), LatencyP95: ptr(0.5)},
		},
		{
			name:      "a call purged between count and read leaves the percentile unknown",
			counts:    audit.Counts{Total: 4, Calls: 4},
			times:     []float64{0.1, 0.2, 0.3},
			wantRanks: []int64{2, 4},
			want: audit.Stats{PeriodHours: 24, Counts: audit.Counts{Total: 4, Calls: 4,
				ByStatusClass: map[string]int64{"2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0},
				ByAction:      allActions(nil)},
				LatencyP50: ptr(0.2)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeStore{counts: tt.counts, times: tt.times}
			got, err := audit.NewService(store, clock).Stats(context.Background(), 24)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("stats (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantRanks, store.ranks); diff != "" {
				t.Errorf("ranks read (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff([]time.Time{received.Add(-24 * time.Hour)}, store.countSince); diff != "" {
				t.Errorf("period start (-want +got):\n%s", diff)
			}
		})
	}
	for _, h := range []int{0, 169, -1} {
		t.Run(fmt.Sprintf("hours_ago %d", h), func(t *testing.T) {
			store := &fakeStore{}
			_, err := audit.NewService(store, clock).Stats(context.Background(), h)
			if diff := cmp.Diff([]string{"hours_ago"}, fieldsOf(t, err)); diff != "" {
				t.Errorf("invalid fields (-want +got):\n%s", diff)
			}
			if len(store.countSince) != 0 {
				t.Error("an invalid query reached the store")
			}
		})
	}
}

// fakeExpirer records the purges asked of it.
type fakeExpirer struct {
	mu      sync.Mutex
	cutoffs []time.Time
	err     error
	calls   chan struct{}
}

func (e *fakeExpirer) DeleteBefore(_ context.Context, t time.Time) (int64, error) {
	e.mu.Lock()
	e.cutoffs = append(e.cutoffs, t)
	e.mu.Unlock()
	select {
	case e.calls <- struct{}{}:
	default:
	}
	return 3, e.err
}

func TestPurger(t *testing.T) {
	t.Run("once", func(t *testing.T) {
		ex := &fakeExpirer{}
		p := &audit.Purger{Store: ex, Keep: 90 * 24 * time.Hour, Every: time.Hour, Now: clock}
		n, err := p.PurgeOnce(context.Background())
		if err != nil || n != 3 {
			t.Fatalf("PurgeOnce = %d, %v", n, err)
		}
		if diff := cmp.Diff([]time.Time{received.Add(-90 * 24 * time.Hour)}, ex.cutoffs); diff != "" {
			t.Errorf("cutoff (-want +got):\n%s", diff)
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
