package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/pgtest"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/tickets/internal/api"
	"github.com/supportdesk/supportdesk/services/tickets/internal/postgres"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// reportEnv is the report routes on the real router over a fresh database,
// with the directory of reportDirectory.
type reportEnv struct {
	engine *gin.Engine
	pool   *pgxpool.Pool
	tokens *token.Manager
}

// reportDirectory: 1 admin; 2, 5, 8 active staff, 6 inactive staff; 3 and
// 4 active users, 7 an inactive one. Bob's first name is a formula.
const reportDirectory = `
INSERT INTO tickets.users (id, email, role, first_name, last_name, father_name, inn, phone, active) VALUES
 (1, 'admin@company.com',  'admin', NULL, NULL, NULL, NULL, NULL, true),
 (2, 'staff@company.com',  'staff', NULL, NULL, NULL, NULL, NULL, true),
 (3, 'ann@example.com',    'user',  'Ann', 'Lee', NULL, '123456789012', '+79001234567', true),
 (4, 'bob@example.com',    'user',  '=HYPERLINK("http://x.example")', '', 'Petrovich', NULL, NULL, true),
 (5, 'staff2@company.com', 'staff', NULL, NULL, NULL, NULL, NULL, true),
 (6, 'gone@company.com',   'staff', NULL, NULL, NULL, NULL, NULL, false),
 (7, 'left@example.com',   'user',  NULL, NULL, NULL, NULL, NULL, false),
 (8, 'idle@company.com',   'staff', NULL, NULL, NULL, NULL, NULL, true)`

func newReportEnv(tb testing.TB, reports api.Reporter, logger *slog.Logger) reportEnv {
	tb.Helper()
	pool, _ := pgtest.New(tb, postgres.Migrations)
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if reports == nil {
		reports = ticket.NewReports(postgres.NewStore(pool))
	}
	tokens := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := web.NewEngine(logger, prometheus.NewRegistry())
	api.New(nil, reports, tokens, logger).Routes(e)
	pgtest.Exec(tb, pool, reportDirectory)
	return reportEnv{engine: e, pool: pool, tokens: tokens}
}

func (e reportEnv) bearer(tb testing.TB, id int64, role access.Role) string {
	tb.Helper()
	s, _, err := e.tokens.Issue(id, role, "s")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func (e reportEnv) get(tb testing.TB, path, bearer string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	e.engine.ServeHTTP(rec, req)
	return rec
}

// sameJSON compares two JSON documents by value.
func sameJSON(tb testing.TB, got []byte, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("response is not JSON: %v: %s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("bad expectation: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("got  %s\nwant %s", got, want)
	}
}

// wantProblem checks a problem+json answer with the given status.
func wantProblem(tb testing.TB, rec *httptest.ResponseRecorder, status int) map[string]any {
	tb.Helper()
	var body map[string]any
	_ = json.Unmarshal(rec.Body.Bytes(), &body)
	if rec.Code != status || rec.Header().Get("Content-Type") != "application/problem+json" || body["detail"] == "" {
		tb.Errorf("= %d %q %s, want a %d problem", rec.Code, rec.Header().Get("Content-Type"), rec.Body, status)
	}
	if cd := rec.Header().Get("Content-Disposition"); cd != "" {
		tb.Errorf("a problem with Content-Disposition %q", cd)
	}
	return body
}

// The statistics tickets: created on consecutive days of March 2026, with
// first responses and resolutions after known intervals, and SLA clocks in
// every state (a pending clock past its due time counts as breached).
//
//	id owner staff status      priority first response  resolved  first-response clock  resolution clock
//	1  3     -     new         low      -               -         none                  none
//	2  3     2     in_progress normal   61 s            -         met                   pending (due 2099)
//	3  4     2     completed   high     120 s           3600 s    met                   breached
//	4  4     5     closed      urgent   600 s           7200 s    breached              breached
//	5  3     2     completed   normal   30 s            1800 s    breached              met
//	6  3     -     closed      normal   -               -         none                  none
//	7  4     6     in_progress normal   -               -         pending (due passed)  pending (due 2099)
//	8  99    5     new         high     -               -         none                  none
//
// First responses 30, 61, 120, 600: median (61+120)/2 = 90.5 s.
// Resolutions 1800, 3600, 7200: median 3600 s.
// SLA: normal 3 tickets with clocks, 2 first responses breached (5, 7), no
// resolution; high 1 ticket, its resolution breached; urgent 1, both.
const reportTickets = `
INSERT INTO tickets.requests (owner_id, staff_id, text, status, priority, created_at, first_response_at, resolved_at,
    first_response_sla, resolution_sla, first_response_due_at, resolution_due_at)
SELECT owner, staff, 'ticket ' || n, status, priority, created,
       created + first_response * interval '1 second', created + resolved * interval '1 second',
       fr_sla, res_sla, CASE WHEN fr_sla <> 'none' THEN created + interval '1 minute' END,
       CASE WHEN res_sla = 'pending' THEN timestamptz '2099-01-01Z' WHEN res_sla <> 'none' THEN created + interval '1 hour' END
FROM (VALUES
 (1, 3, NULL::bigint, 'new',         'low',    NULL::int, NULL::int, 'none',     'none'),
 (2, 3, 2,            'in_progress', 'normal', 61,        NULL,      'met',      'pending'),
 (3, 4, 2,            'completed',   'high',   120,       3600,      'met',      'breached'),
 (4, 4, 5,            'closed',      'urgent', 600,       7200,      'breached', 'breached'),
 (5, 3, 2,            'completed',   'normal', 30,        1800,      'breached', 'met'),
 (6, 3, NULL,         'closed',      'normal', NULL,      NULL,      'none',     'none'),
 (7, 4, 6,            'in_progress', 'normal', NULL,      NULL,      'pending',  'pending'),
 (8, 99, 5,           'new',         'high',   NULL,      NULL,      'none',     'none')
) AS t (n, owner, staff, status, priority, first_response, resolved, fr_sla, res_sla),
LATERAL (SELECT timestamptz '2026-03-01 10:00:00Z' + (n - 1) * interval '1 day' AS created) c
ORDER BY n`

func TestStatistics(t *testing.T) {
	e := newReportEnv(t, nil, nil)
	admin := e.bearer(t, 1, access.RoleAdmin)

	t.Run("no tickets", func(t *testing.T) {
		rec := e.get(t, "/admin/statistics", admin)
		if rec.Code != 200 {
			t.Fatalf("= %d %s", rec.Code, rec.Body)
		}
		sameJSON(t, rec.Body.Bytes(), `{
			"total_requests": 0, "new_requests": 0, "in_progress_requests": 0, "completed_requests": 0,
			"closed_requests": 0, "total_users": 2, "total_staff": 3,
			"requests_by_priority": {"low": 0, "normal": 0, "high": 0, "urgent": 0},
			"median_first_response_seconds": null, "median_resolution_seconds": null,
			"sla_by_priority": {
				"low": {"tickets": 0, "first_response_breached": 0, "first_response_breach_rate": null, "resolution_breached": 0, "resolution_breach_rate": null},
				"normal": {"tickets": 0, "first_response_breached": 0, "first_response_breach_rate": null, "resolution_breached": 0, "resolution_breach_rate": null},
				"high": {"tickets": 0, "first_response_breached": 0, "first_response_breach_rate": null, "resolution_breached": 0, "resolution_breach_rate": null},
				"urgent": {"tickets": 0, "first_response_breached": 0, "first_response_breach_rate": null, "resolution_breached": 0, "resolution_breach_rate": null}}}`)
	})

	pgtest.Exec(t, e.pool, reportTickets)
	t.Run("hand-computed", func(t *testing.T) {
		rec := e.get(t, "/admin/statistics", admin)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
			t.Fatalf("= %d %q %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		sameJSON(t, rec.Body.Bytes(), `{
			"total_requests": 8, "new_requests": 2, "in_progress_requests": 2, "completed_requests": 2,
			"closed_requests": 2, "total_users": 2, "total_staff": 3,
			"requests_by_priority": {"low": 1, "normal": 4, "high": 2, "urgent": 1},
			"median_first_response_seconds": 90.5, "median_resolution_seconds": 3600,
			"sla_by_priority": {
				"low": {"tickets": 0, "first_response_breached": 0, "first_response_breach_rate": null, "resolution_breached": 0, "resolution_breach_rate": null},
				"normal": {"tickets": 3, "first_response_breached": 2, "first_response_breach_rate": 0.6666666666666666, "resolution_breached": 0, "resolution_breach_rate": 0},
				"high": {"tickets": 1, "first_response_breached": 0, "first_response_breach_rate": 0, "resolution_breached": 1, "resolution_breach_rate": 1},
				"urgent": {"tickets": 1, "first_response_breached": 1, "first_response_breach_rate": 1, "resolution_breached": 1, "resolution_breach_rate": 1}}}`)
	})

	for _, tt := range []struct {
		name, bearer string
		status       int
	}{
		{"user", e.bearer(t, 3, access.RoleUser), 403},
		{"staff", e.bearer(t, 2, access.RoleStaff), 403},
		{"no token", "", 401},
		{"bad token", "not-a-token", 401},
	} {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.get(t, "/admin/statistics", tt.bearer)
			wantProblem(t, rec, tt.status)
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("401 without a Bearer challenge: %v", rec.Header())
			}
		})
	}
}

func TestWorkload(t *testing.T) {
	e := newReportEnv(t, nil, nil)
	pgtest.Exec(t, e.pool, reportTickets)
	admin := e.bearer(t, 1, access.RoleAdmin)

	rec := e.get(t, "/admin/staff/workload", admin)
	if rec.Code != 200 {
		t.Fatalf("= %d %s", rec.Code, rec.Body)
	}
	// Active staff by id; 6 is inactive and the admin is not staff. 2 holds
	// tickets 2, 3, 5; 5 holds 4 and 8; 8 holds none.
	sameJSON(t, rec.Body.Bytes(), `[
		{"id": 2, "display_id": "USR000002", "email": "staff@company.com", "total_requests": 3, "new_requests": 0,
		 "in_progress_requests": 1, "completed_requests": 2, "closed_requests": 0},
		{"id": 5, "display_id": "USR000005", "email": "staff2@company.com", "total_requests": 2, "new_requests": 1,
		 "in_progress_requests": 0, "completed_requests": 0, "closed_requests": 1},
		{"id": 8, "display_id": "USR000008", "email": "idle@company.com", "total_requests": 0, "new_requests": 0,
		 "in_progress_requests": 0, "completed_requests": 0, "closed_requests": 0}]`)

	for _, tt := range []struct {
		name, bearer string
		status       int
	}{
		{"user", e.bearer(t, 3, access.RoleUser), 403},
		{"staff", e.bearer(t, 2, access.RoleStaff), 403},
		{"no token", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, e.get(t, "/admin/staff/workload", tt.bearer), tt.status) })
	}

	t.Run("no staff", func(t *testing.T) {
		pgtest.Exec(t, e.pool, `UPDATE tickets.users SET active = false WHERE role = 'staff'`)
		rec := e.get(t, "/admin/staff/workload", admin)
		if rec.Code != 200 || rec.Body.String() != "[]" {
			t.Errorf("= %d %s, want an empty array", rec.Code, rec.Body)
		}
	})
}

// The export tickets, with cells a spreadsheet would take for formulas.
// Ticket 3's owner is not in the directory; its text starts with a CR,
// which encoding/csv drops inside a quoted field when it writes CRLF.
const exportTickets = `
INSERT INTO tickets.requests (owner_id, staff_id, title, text, status, priority, category, staff_comment, created_at, updated_at) VALUES
 (3, 2, '-1 day', E'Printer, on fire\nsecond line', 'in_progress', 'high', '@hardware', '+looking',
  '2026-03-01 10:00:00+03', '2026-03-01 12:30:45.678+03'),
 (4, NULL, NULL, E'\tTabbed', 'new', 'normal', NULL, NULL, '2026-03-02 09:00:00Z', '2026-03-02 09:00:00Z'),
 (99, NULL, NULL, E'\rCR first', 'closed', 'low', NULL, NULL, '2026-03-03 23:59:59Z', '2026-03-04 00:00:00Z'),
 (3, 2, 'Plain title', '=1+2', 'completed', 'urgent', 'software', 'done; =SUM(A1)|@x', '2026-03-04 00:00:00Z', '2026-03-05 08:15:00Z')`

const exportHeader = "ID,Request Text,Status,Created At,Updated At,Owner Email,Owner Name,Owner INN,Owner Phone," +
	"Staff Email,Staff Comment,Title,Priority,Category\r\n"

var exportFile = regexp.MustCompile(`^attachment; filename=requests_export_(\d{8}_\d{6})\.csv$`)

func TestExportBytes(t *testing.T) {
	e := newReportEnv(t, nil, nil)
	pgtest.Exec(t, e.pool, exportTickets)

	before := time.Now().UTC().Truncate(time.Second)
	rec := e.get(t, "/admin/requests/export", e.bearer(t, 1, access.RoleAdmin))
	after := time.Now().UTC()
	if rec.Code != 200 {
		t.Fatalf("= %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	m := exportFile.FindStringSubmatch(rec.Header().Get("Content-Disposition"))
	if m == nil {
		t.Fatalf("Content-Disposition = %q", rec.Header().Get("Content-Disposition"))
	}
	if stamp, err := time.Parse("20060102_150405", m[1]); err != nil || stamp.Before(before) || stamp.After(after) {
		t.Errorf("file name time %s (%v) is not the UTC time of the request (%s..%s)", m[1], err, before, after)
	}

	want := exportHeader +
		"4,'=1+2,completed,2026-03-04 00:00:00,2026-03-05 08:15:00,ann@example.com,Ann Lee,123456789012,'+79001234567," +
		"staff@company.com,done; '=SUM(A1)|'@x,Plain title,urgent,software\r\n" +
		"3,\"'CR first\",closed,2026-03-03 23:59:59,2026-03-04 00:00:00,,,,,,,,low,\r\n" +
		"2,'\tTabbed,new,2026-03-02 09:00:00,2026-03-02 09:00:00,bob@example.com," +
		"\"'=HYPERLINK(\"\"http://x.example\"\") Petrovich\",,,,,,normal,\r\n" +
		"1,\"Printer, on fire\r\nsecond line\",in_progress,2026-03-01 07:00:00,2026-03-01 09:30:45,ann@example.com,Ann Lee," +
		"123456789012,'+79001234567,staff@company.com,'+looking,'-1 day,high,'@hardware\r\n"
	if got := rec.Body.String(); got != want {
		t.Errorf("export:\n got %q\nwant %q", got, want)
	}
}

// exportIDs reads the ID column of an export.
func exportIDs(tb testing.TB, body []byte) []string {
	tb.Helper()
	records, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil || len(records) == 0 || records[0][0] != "ID" {
		tb.Fatalf("not an export (%v): %q", err, body)
	}
	ids := []string{}
	for _, r := range records[1:] {
		ids = append(ids, r[0])
	}
	return ids
}

func TestExportFilters(t *testing.T) {
	e := newReportEnv(t, nil, nil)
	pgtest.Exec(t, e.pool, exportTickets)
	admin := e.bearer(t, 1, access.RoleAdmin)

	for _, tt := range []struct {
		query string
		want  []string
	}{
		{"", []string{"4", "3", "2", "1"}},
		{"status=new", []string{"2"}},
		{"status=closed&owner_id=99", []string{"3"}},
		{"owner_id=3", []string{"4", "1"}},
		{"owner_id=USR000004", []string{"2"}},
		{"staff_id=2", []string{"4", "1"}},
		{"unassigned=true", []string{"3", "2"}},
		// Ticket 3 was created at 23:59:59 on the 3rd; 4 at midnight after it.
		{"date_from=2026-03-02&date_to=2026-03-03", []string{"3", "2"}},
		{"date_to=2026-03-01", []string{"1"}},
		{"date_from=2026-03-01T07:00:00Z&date_to=2026-03-02T09:00:00Z", []string{"2", "1"}},
		{"status=new&owner_id=3", []string{}},
	} {
		t.Run(tt.query, func(t *testing.T) {
			rec := e.get(t, "/admin/requests/export?"+tt.query, admin)
			if rec.Code != 200 {
				t.Fatalf("= %d %s", rec.Code, rec.Body)
			}
			if got := exportIDs(t, rec.Body.Bytes()); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ids = %v, want %v", got, tt.want)
			}
		})
	}

	t.Run("empty export is the header", func(t *testing.T) {
		rec := e.get(t, "/admin/requests/export?status=new&owner_id=3", admin)
		if rec.Body.String() != exportHeader || !exportFile.MatchString(rec.Header().Get("Content-Disposition")) {
			t.Errorf("= %q %v", rec.Body, rec.Header())
		}
	})

	for _, bad := range []string{"status=done", "owner_id=x", "staff_id=0", "date_from=yesterday", "date_to=2026-13-01", "unassigned=maybe"} {
		t.Run("422 "+bad, func(t *testing.T) {
			body := wantProblem(t, e.get(t, "/admin/requests/export?"+bad, admin), 422)
			if body["errors"] == nil {
				t.Errorf("no field errors: %v", body)
			}
		})
	}
	for _, tt := range []struct {
		name, bearer string
		status       int
	}{
		{"user", e.bearer(t, 3, access.RoleUser), 403},
		{"staff", e.bearer(t, 2, access.RoleStaff), 403},
		{"no token", "", 401},
	} {
		t.Run(tt.name, func(t *testing.T) { wantProblem(t, e.get(t, "/admin/requests/export", tt.bearer), tt.status) })
	}
}

// fakeReports produces rows of an export and then fails with err, if set;
// each time a row is due, seen reports what the client has received.
type fakeReports struct {
	api.Reporter
	rows int
	err  error
	seen func(row int)
}

func (f *fakeReports) Export(ctx context.Context, a ticket.Actor, _ ticket.Filter, write func(ticket.ExportRow) error) error {
	if !access.Has(a.Role, access.ExportData) {
		return errors.New("the handler let a non-admin through")
	}
	for i := 1; i <= f.rows; i++ {
		if f.seen != nil {
			f.seen(i)
		}
		err := write(ticket.ExportRow{ID: int64(i), Text: "text", Status: ticket.StatusNew, Priority: ticket.PriorityNormal,
			CreatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), UpdatedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
	}
	return f.err
}

// flushRecorder is a response that counts flushes and keeps what was
// flushed apart from what is merely written.
type flushRecorder struct {
	*httptest.ResponseRecorder
	flushes int
	flushed int // bytes written by the last flush
}

func (r *flushRecorder) Flush() {
	r.flushes++
	r.flushed = r.Body.Len()
}

func (e reportEnv) stream(tb testing.TB, w http.ResponseWriter) {
	tb.Helper()
	req := httptest.NewRequest(http.MethodGet, "/admin/requests/export", nil)
	req.Header.Set("Authorization", "Bearer "+e.bearer(tb, 1, access.RoleAdmin))
	e.engine.ServeHTTP(w, req)
}

func TestExportStreams(t *testing.T) {
	fake := &fakeReports{rows: 250}
	e := newReportEnv(t, fake, nil)
	rec := &flushRecorder{ResponseRecorder: httptest.NewRecorder()}
	// Before row 101 is produced, the first hundred rows must have reached
	// the client: rows go out as they come, not when the export ends.
	var linesBefore101 int
	fake.seen = func(row int) {
		if row == 101 {
			linesBefore101 = bytes.Count(rec.Body.Bytes()[:rec.flushed], []byte("\r\n"))
		}
	}
	e.stream(t, rec)
	if rec.Code != 200 || len(exportIDs(t, rec.Body.Bytes())) != 250 {
		t.Fatalf("= %d, %d bytes", rec.Code, rec.Body.Len())
	}
	if linesBefore101 != 101 {
		t.Errorf("%d lines flushed before row 101, want the header and 100 rows", linesBefore101)
	}
	if rec.flushes != 3 {
		t.Errorf("%d flushes for 250 rows, want 3 (rows 100, 200 and the end)", rec.flushes)
	}
}

func TestExportFailure(t *testing.T) {
	t.Run("before the first byte: a problem", func(t *testing.T) {
		e := newReportEnv(t, &fakeReports{rows: 5, err: errors.New("connection reset")}, nil)
		rec := httptest.NewRecorder()
		e.stream(t, rec)
		wantProblem(t, rec, 500)
		if strings.Contains(rec.Body.String(), "ID,") || strings.Contains(rec.Body.String(), "connection reset") {
			t.Errorf("the problem leaks the export or the cause: %s", rec.Body)
		}
	})
	t.Run("midway: logged, response aborted", func(t *testing.T) {
		var logs bytes.Buffer
		e := newReportEnv(t, &fakeReports{rows: 250, err: errors.New("connection reset")}, slog.New(slog.NewTextHandler(&logs, nil)))
		rec := httptest.NewRecorder()
		func() {
			// net/http turns this panic into a cut connection: the client
			// sees a broken download, not a short file that looks whole.
			defer func() {
				if r := recover(); r != http.ErrAbortHandler {
					t.Errorf("the handler did not abort the response: %v", r)
				}
			}()
			e.stream(t, rec)
		}()
		body := rec.Body.String()
		if rec.Code != 200 || !strings.HasPrefix(body, exportHeader) || strings.Contains(body, "problem") {
			t.Errorf("= %d %q...", rec.Code, body[:min(len(body), 200)])
		}
		// Rows 201-250 were still in the CSV writer and are never sent.
		if n := strings.Count(body, "\r\n"); n < 201 || n >= 251 {
			t.Errorf("%d lines sent, want the header and at least the 200 flushed rows but not all", n)
		}
		if !strings.Contains(logs.String(), "export stopped midway") || !strings.Contains(logs.String(), "connection reset") {
			t.Errorf("log = %s", logs.String())
		}
	})
}

func TestReportRoutesNeedAToken(t *testing.T) {
	e := newReportEnv(t, nil, nil)
	for _, path := range []string{"/admin/statistics", "/admin/staff/workload", "/admin/requests/export"} {
		t.Run(path, func(t *testing.T) {
			rec := e.get(t, path, "")
			wantProblem(t, rec, 401)
			if rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("headers = %v", rec.Header())
			}
		})
	}
}
