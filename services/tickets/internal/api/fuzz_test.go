package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/services/tickets/internal/ticket"
)

// PostgreSQL's timestamptz runs from 4713 BC to 294276 AD; the store fails
// a query comparing with a time outside it (a 500, not a 422).
var (
	storableFrom  = time.Date(-4712, 1, 1, 0, 0, 0, 0, time.UTC)
	storableUntil = time.Date(294277, 1, 1, 0, 0, 0, 0, time.UTC)
)

func storable(t *time.Time) bool {
	return t == nil || (!t.Before(storableFrom) && t.Before(storableUntil))
}

// fuzzContext is a Gin context for a request with the given raw query,
// headers and JSON body, on the ticket with id 1.
func fuzzContext(rawQuery string, header http.Header, body []byte) (*gin.Context, *httptest.ResponseRecorder) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	if header == nil {
		header = http.Header{}
	}
	c.Request = &http.Request{
		Method: http.MethodPost, URL: &url.URL{Path: "/", RawQuery: rawQuery}, Header: header,
		Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)),
	}
	c.Params = gin.Params{{Key: "id", Value: "1"}}
	return c, w
}

// FuzzParseList checks that the list query parsing never panics, refuses
// with one validation fault naming only list parameters, and that what it
// accepts the store can run: a page within the size and depth bounds, a
// valid status, positive user ids, and times PostgreSQL can compare with.
func FuzzParseList(f *testing.F) {
	for _, s := range []string{
		"", "status=new&page=2&size=20", "status=in_progress&staff_id=USR000002&owner_id=3&unassigned=false",
		"date_from=2026-03-01&date_to=2026-03-14T15:09:26Z", "date_from=0000-01-01&date_to=9999-12-31",
		"page=200&size=50", "page=201&size=50", "page=10000&size=1", "page=1000000&size=100",
		"cursor=MTc3MzUwMDk2NjUzNTg5Ny4xNw&size=100", "cursor=LTkwMDAwMDAwMDAwMDAwMDAwMDAuMQ", "cursor=", "cursor=%%%",
		"status=NEW", "status=", "staff_id=-1", "staff_id=USR-1", "owner_id=0", "unassigned=yes", "unassigned=1",
		"size=0&page=0", "size=101", "page=99999999999999999999", "status=new&status=bogus", "date_to=2026-02-30",
		"status=%00", "a=1&&&b", "page=1;size=2",
	} {
		f.Add(s)
	}
	gin.SetMode(gin.TestMode)
	names := []string{"status", "staff_id", "owner_id", "date_from", "date_to", "unassigned", "page", "size", "cursor"}
	f.Fuzz(func(t *testing.T, rawQuery string) {
		c, _ := fuzzContext(rawQuery, nil, nil)
		filter, page, err := parseList(c)
		if err != nil {
			fe, ok := errors.AsType[*fault.Error](err)
			if !ok || fe.Kind != fault.Validation || len(fe.Fields) == 0 {
				t.Fatalf("parseList(%q) = %v, want a validation fault", rawQuery, err)
			}
			for _, field := range fe.Fields {
				if !slices.Contains(names, field.Field) {
					t.Fatalf("parseList(%q) names %q, not a list parameter", rawQuery, field.Field)
				}
			}
			return
		}
		if page.Size < 1 || page.Size > 100 || page.Number < 1 || page.CheckDepth() != nil {
			t.Fatalf("parseList(%q): page %+v out of bounds", rawQuery, page)
		}
		if page.After == nil && page.Number*page.Size > ticket.MaxOffset {
			t.Fatalf("parseList(%q): page %+v ends past %d", rawQuery, page, ticket.MaxOffset)
		}
		if page.After != nil && (page.After.ID <= 0 || !storable(&page.After.CreatedAt)) {
			t.Fatalf("parseList(%q): cursor at %v, %d", rawQuery, page.After.CreatedAt, page.After.ID)
		}
		if filter.Status != nil && !filter.Status.Valid() {
			t.Fatalf("parseList(%q): status %q", rawQuery, *filter.Status)
		}
		if (filter.OwnerID != nil && *filter.OwnerID <= 0) || (filter.StaffID != nil && *filter.StaffID <= 0) {
			t.Fatalf("parseList(%q): filter %+v has an id that is not positive", rawQuery, filter)
		}
		if !storable(filter.CreatedGTE) || !storable(filter.CreatedLT) {
			t.Fatalf("parseList(%q): created between %v and %v", rawQuery, filter.CreatedGTE, filter.CreatedLT)
		}
	})
}

// FuzzIfMatch checks that the If-Match header parsing never panics, refuses
// only with a failed precondition (412), reads back the version of every
// ETag the service sends (weak or not), and accepts a version only from a
// header naming this ticket's id.
func FuzzIfMatch(f *testing.F) {
	for _, s := range []string{`"1-3"`, `W/"1-3"`, `*`, ``, ` "1-3" `, `"2-3"`, `"1-"`, `"1-x"`, `"1-+3"`, `"1--3"`, `1-3`, `"1-99999999999999999999"`, `""1-3""`, `W/*`, "\"1-3\x00\""} {
		f.Add(s, int64(1), 3)
	}
	f.Add(`"9223372036854775807-2147483647"`, int64(1<<63-1), 1<<31-1)
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, raw string, id int64, version int) {
		if id > 0 {
			tag := etag(ticket.Ticket{ID: id, Version: version})
			for _, h := range []string{tag, "W/" + tag} {
				c, _ := fuzzContext("", http.Header{"If-Match": {h}}, nil)
				if v, err := ifMatch(c, id); err != nil || v == nil || *v != version {
					t.Fatalf("ifMatch(%s) for ticket %d = %v, %v, want version %d", h, id, v, err, version)
				}
			}
		}
		c, _ := fuzzContext("", http.Header{"If-Match": {raw}}, nil)
		v, err := ifMatch(c, id)
		if err != nil {
			if !fault.Is(err, fault.Precondition) {
				t.Fatalf("ifMatch(%q) = %v, want a failed precondition", raw, err)
			}
			return
		}
		if v != nil && !strings.Contains(raw, strconv.FormatInt(id, 10)+"-") {
			t.Fatalf("ifMatch(%q) for ticket %d = %d, from a header that does not name the ticket", raw, id, *v)
		}
	})
}

// recordingTickets records what the body handlers ask of the service and
// answers with an empty ticket; the methods they do not call are left to
// the nil interface.
type recordingTickets struct {
	Tickets
	called  string
	patch   ticket.Patch
	staffID int64
}

func (r *recordingTickets) Create(context.Context, ticket.Actor, ticket.Draft, *ticket.Idempotency) (ticket.View, error) {
	r.called = "create"
	return ticket.View{}, nil
}

func (r *recordingTickets) Update(_ context.Context, _ ticket.Actor, _ int64, p ticket.Patch, _ *int) (ticket.View, error) {
	r.called, r.patch = "update", p
	return ticket.View{}, nil
}

func (r *recordingTickets) ChangeStatus(context.Context, ticket.Actor, int64, ticket.StatusChange, *int) (ticket.View, error) {
	r.called = "changeStatus"
	return ticket.View{}, nil
}

func (r *recordingTickets) Assign(_ context.Context, _ ticket.Actor, _, staffID int64) (ticket.View, error) {
	r.called, r.staffID = "assign", staffID
	return ticket.View{}, nil
}

func (r *recordingTickets) AddComment(context.Context, ticket.Actor, int64, string, bool, *ticket.Idempotency) (ticket.CommentView, error) {
	r.called = "addComment"
	return ticket.CommentView{}, nil
}

// FuzzRequestBodies sends one body to every handler that reads one
// (create, update, change of status, assignment, comment), decoded
// strictly by web.BindJSON, and checks that none panics or answers a 5xx:
// a body the handler refuses is a 400 or 422 problem and reaches no
// service; one it accepts reaches the service as the body says (the
// update's members present exactly, null clearing; a positive staff id).
func FuzzRequestBodies(f *testing.F) {
	for _, s := range []string{
		`{"text":"The printer is on fire","title":"Printer","priority":"high","category":"hardware"}`,
		`{"text":"x","title":null}`, `{"text":null}`, `{"priority":"urgent","category":""}`,
		`{"status":"in_progress","staff_comment":"on it"}`, `{"status":null}`,
		`{"staff_id":2}`, `{"staff_id":"USR000002"}`, `{"staff_id":2.5}`, `{"staff_id":-2}`, `{"staff_id":1e300}`,
		`{"staff_id":9223372036854775807}`, `{"staff_id":9.3e18}`, `{"staff_id":true}`, `{"staff_id":null}`,
		`{"body":"thanks","internal":true}`, `{"body":null}`, `{"internal":"yes"}`,
		`{"text":1}`, `{"Text":"x"}`, `{"text":"a","text":"b"}`, `{"text":"a\u0000"}`, `{"role":"admin"}`,
		`{}`, `[]`, `null`, ``, `{"text":"x"} {}`, `{"text":`, strings.Repeat("[", 10000), `{"list":[1 2]}`,
	} {
		f.Add([]byte(s))
	}
	gin.SetMode(gin.TestMode)
	rec := &recordingTickets{}
	h := New(rec, nil, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	handlers := []struct {
		name  string
		serve gin.HandlerFunc
	}{{"create", h.create}, {"update", h.update}, {"changeStatus", h.changeStatus}, {"assign", h.assign}, {"addComment", h.addComment}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, handler := range handlers {
			*rec = recordingTickets{}
			c, w := fuzzContext("", http.Header{"Content-Type": {"application/json"}}, body)
			handler.serve(c)
			if rec.called == "" {
				if (w.Code != http.StatusBadRequest && w.Code != http.StatusUnprocessableEntity) ||
					!strings.HasPrefix(w.Header().Get("Content-Type"), "application/problem+json") {
					t.Fatalf("%s(%q) answered %d %s, want a 400 or 422 problem", handler.name, body, w.Code, w.Header().Get("Content-Type"))
				}
				continue
			}
			if rec.called != handler.name || w.Code >= 300 {
				t.Fatalf("%s(%q) called %s and answered %d", handler.name, body, rec.called, w.Code)
			}
			switch handler.name {
			case "update":
				checkPatch(t, body, rec.patch)
			case "assign":
				if rec.staffID <= 0 {
					t.Fatalf("assign(%q) asked for staff id %d", body, rec.staffID)
				}
			}
		}
	})
}

// checkPatch checks that p holds exactly the members of body, all of them
// fields an owner can change: each one present is set, to nil when null.
func checkPatch(t *testing.T, body []byte, p ticket.Patch) {
	t.Helper()
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		t.Fatalf("update accepted %q, which is not an object: %v", body, err)
	}
	fields := map[string]ticket.Field{"text": p.Text, "title": p.Title, "priority": p.Priority, "category": p.Category}
	for name := range members {
		if _, known := fields[name]; !known {
			t.Fatalf("update accepted %q, with member %q", body, name)
		}
	}
	for name, f := range fields {
		raw, present := members[name]
		if f.Set != present || (present && (f.Value == nil) != (string(raw) == "null")) {
			t.Fatalf("update(%q): %s is %+v", body, name, f)
		}
	}
}
