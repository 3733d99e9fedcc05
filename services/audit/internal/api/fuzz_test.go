package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// queryStore records the queries the audit service runs and finds nothing;
// the methods the queries do not call are left to the nil interface.
type queryStore struct {
	audit.Store
	queries []audit.Query
	spans   [][2]time.Time
}

func (s *queryStore) List(_ context.Context, q audit.Query) (audit.Listing, error) {
	s.queries = append(s.queries, q)
	return audit.Listing{Counted: q.CountUpTo > 0}, nil
}

func (s *queryStore) Summarize(_ context.Context, from, to time.Time) (audit.Summary, error) {
	s.spans = append(s.spans, [2]time.Time{from, to})
	return audit.NewSummary(), nil
}

func (s *queryStore) Rollups(context.Context, time.Duration, time.Time, time.Time) ([]audit.Rollup, error) {
	return nil, nil
}

func (s *queryStore) SaveRollup(context.Context, audit.Rollup) error { return nil }

// FuzzLogQueries sends one raw query string to each log query (request
// actions, API log, events, statistics), through the real audit service
// over a store that records what it is asked, and checks that none panics
// or answers anything but 200 or a 422 problem naming only that query's
// parameters, and that every query reaching the store is bounded: a page
// of 1 to 1000 entries ending within the first 10,000 (or after a cursor
// of String's), valid filters, a period of at most 168 hours.
func FuzzLogQueries(f *testing.F) {
	cursor := audit.Cursor{Time: time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC), EventID: "e1"}.String()
	for _, s := range []string{
		"", "page=2&size=100", "page=10&size=1000", "page=11&size=1000", "page=10000&size=1", "size=1001", "size=0",
		"cursor=" + cursor + "&size=1000", "cursor=" + cursor + "&page=99", "cursor=", "cursor=x",
		"cursor=MDAwMC0wMS0wMVQwMDowMDowMCswMTowMCBl", // 0000-01-01T00:00:00+01:00, a year -1 in UTC
		"request_id=17&user_id=3&action=view_request&hours_ago=168", "request_id=-1", "request_id=REQ17", "user_id=0",
		"action=bogus", "hours_ago=0", "hours_ago=169", "hours_ago=99999999999999999999",
		"method=get&status_code=404", "method=TRACE", "status_code=99", "status_code=600", "status_code=x",
		"type=support.ticket.created.v1&subject=REQ000017&actor_id=3", "type=" + strings.Repeat("t", 201),
		"since=2026-03-14T00:00:00Z&until=2026-03-15T00:00:00%2B03:00", "since=2026-03-15T00:00:00Z&until=2026-03-14T00:00:00Z",
		"since=0000-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00", "since=yesterday",
		"page=1;size=2", "%zz=1", "page=%00",
	} {
		f.Add(s)
	}
	gin.SetMode(gin.TestMode)
	now := time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)
	store := &queryStore{}
	h := &handler{svc: audit.NewService(store, func() time.Time { return now }), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	paging := []string{"page", "size", "cursor"}
	routes := []struct {
		name   string
		serve  gin.HandlerFunc
		params []string
	}{
		{"request-actions", h.requestActions, append([]string{"request_id", "user_id", "action", "hours_ago"}, paging...)},
		{"api-logs", h.apiLogs, append([]string{"method", "status_code", "user_id", "hours_ago"}, paging...)},
		{"events", h.events, append([]string{"type", "subject", "actor_id", "since", "until"}, paging...)},
		{"stats", h.stats, []string{"hours_ago"}},
	}
	serve := func(handler gin.HandlerFunc, rawQuery string) *httptest.ResponseRecorder {
		*store = queryStore{}
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = &http.Request{Method: http.MethodGet, URL: &url.URL{Path: "/", RawQuery: rawQuery}, Header: http.Header{}}
		handler(c)
		return w
	}
	for _, route := range routes {
		if w := serve(route.serve, ""); w.Code != http.StatusOK || len(store.queries)+len(store.spans) == 0 {
			f.Fatalf("%s without parameters answered %d without querying the store", route.name, w.Code)
		}
	}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		for _, route := range routes {
			w := serve(route.serve, rawQuery)
			switch w.Code {
			case http.StatusOK:
			case http.StatusUnprocessableEntity:
				var p problem.Problem
				if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || len(p.Errors) == 0 {
					t.Fatalf("%s?%s answered 422 %s, want a problem naming fields", route.name, rawQuery, w.Body)
				}
				for _, fe := range p.Errors {
					if !slices.Contains(route.params, fe.Field) {
						t.Fatalf("%s?%s refused %q, not one of its parameters", route.name, rawQuery, fe.Field)
					}
				}
				if len(store.queries)+len(store.spans) > 0 {
					t.Fatalf("%s?%s was refused after querying the store", route.name, rawQuery)
				}
				continue
			default:
				t.Fatalf("%s?%s answered %d: %s", route.name, rawQuery, w.Code, w.Body)
			}
			for _, q := range store.queries {
				checkQuery(t, route.name+"?"+rawQuery, q, now)
			}
			for _, span := range store.spans {
				if span[0].Before(now.Add(-audit.MaxHoursAgo*time.Hour)) || span[1].After(now) || !span[0].Before(span[1]) {
					t.Fatalf("stats?%s summarised %v to %v", rawQuery, span[0], span[1])
				}
			}
		}
	})
}

// checkQuery checks that q, run for request, is within the log queries'
// bounds.
func checkQuery(t *testing.T, request string, q audit.Query, now time.Time) {
	t.Helper()
	switch {
	case q.Limit < 2 || q.Limit > audit.MaxPageSize+1 || q.Offset < 0:
		t.Fatalf("%s: limit %d, offset %d", request, q.Limit, q.Offset)
	case q.After == nil && (q.Offset+q.Limit-1 > audit.MaxOffset || q.CountUpTo != audit.CountLimit+1):
		t.Fatalf("%s: a page by number with offset %d, limit %d, counted up to %d", request, q.Offset, q.Limit, q.CountUpTo)
	case q.After != nil && (q.Offset != 0 || q.CountUpTo != 0 || q.After.EventID == "" || q.After.Time.Year() < 0 || q.After.Time.Year() > 9999):
		t.Fatalf("%s: a page after %v %q with offset %d, counted up to %d", request, q.After.Time, q.After.EventID, q.Offset, q.CountUpTo)
	case len(q.Type) > audit.MaxTextFilter || len(q.Subject) > audit.MaxTextFilter || len(q.ActorID) > audit.MaxTextFilter:
		t.Fatalf("%s: a text filter longer than %d", request, audit.MaxTextFilter)
	case q.RequestID < 0 || (q.StatusCode != 0 && (q.StatusCode < 100 || q.StatusCode > 599)):
		t.Fatalf("%s: request id %d, status code %d", request, q.RequestID, q.StatusCode)
	case q.Action != "" && !audit.ValidAction(q.Action):
		t.Fatalf("%s: action %q", request, q.Action)
	case q.Method != "" && q.Method != strings.ToUpper(q.Method):
		t.Fatalf("%s: method %q", request, q.Method)
	case !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since):
		t.Fatalf("%s: since %v, until %v", request, q.Since, q.Until)
	case q.Log != audit.NotCallEntries && q.Log != audit.AllEntries && q.Since.Before(now.Add(-audit.MaxHoursAgo*time.Hour)):
		t.Fatalf("%s: reaches back to %v", request, q.Since)
	}
}
