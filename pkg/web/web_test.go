package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/problem"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type body struct {
	Text  string `json:"text"`
	Count int    `json:"count"`
}

func newEngine(tm *token.Manager) *gin.Engine {
	reg := prometheus.NewRegistry()
	e := web.NewEngine(quiet(), reg)
	web.MetricsRoute(e, reg)
	web.HealthRoutes(e, map[string]web.Check{
		"ok": func(context.Context) error { return nil },
	})
	e.POST("/echo", func(c *gin.Context) {
		var b body
		if err := web.BindJSON(c, &b); err != nil {
			web.Error(c, quiet(), err)
			return
		}
		c.JSON(http.StatusOK, b)
	})
	e.GET("/panic", func(*gin.Context) { panic("boom") })
	e.GET("/logs", web.Authenticate(tm), web.Require(access.ViewLogs), func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"user": web.Claims(c).UserID()})
	})
	return e
}

func do(e http.Handler, method, path, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func decodeProblem(t *testing.T, rec *httptest.ResponseRecorder) problem.Problem {
	t.Helper()
	if ct := rec.Header().Get("Content-Type"); ct != problem.ContentType {
		t.Fatalf("Content-Type = %q, body %s", ct, rec.Body)
	}
	var p problem.Problem
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestEngineErrors(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := newEngine(tm)
	userTok, _, _ := tm.Issue(3, access.RoleUser, "s3")
	adminTok, _, _ := tm.Issue(1, access.RoleAdmin, "s1")

	tests := []struct {
		name, method, path, body string
		header                   []string
		status                   int
		field                    string
	}{
		{"unknown route", "GET", "/nope", "", nil, 404, ""},
		{"wrong method", "DELETE", "/echo", "", nil, 405, ""},
		{"panic", "GET", "/panic", "", nil, 500, ""},
		{"empty body", "POST", "/echo", "", nil, 400, ""},
		{"bad json", "POST", "/echo", "{", nil, 400, ""},
		{"trailing data", "POST", "/echo", `{"text":"a"} {}`, nil, 400, ""},
		{"unknown field", "POST", "/echo", `{"txt":"a"}`, nil, 422, "txt"},
		{"wrong type", "POST", "/echo", `{"count":"a"}`, nil, 422, "count"},
		{"not an object", "POST", "/echo", `[1]`, nil, 400, ""},
		{"a field twice", "POST", "/echo", `{"text":"a","text":"b"}`, nil, 422, "text"},
		{"a field in another case", "POST", "/echo", `{"Text":"a"}`, nil, 422, "Text"},
		{"a field in two cases", "POST", "/echo", `{"text":"a","TEXT":"b"}`, nil, 422, "TEXT"},
		{"NUL in a string", "POST", "/echo", `{"text":"a\u0000b"}`, nil, 422, "text"},
		{"wrong content type", "POST", "/echo", `{}`, []string{"Content-Type", "text/plain"}, 400, ""},
		{"no token", "GET", "/logs", "", nil, 401, ""},
		{"bad token", "GET", "/logs", "", []string{"Authorization", "Bearer x.y.z"}, 401, ""},
		{"wrong scheme", "GET", "/logs", "", []string{"Authorization", "Basic " + adminTok}, 401, ""},
		{"no permission", "GET", "/logs", "", []string{"Authorization", "Bearer " + userTok}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := do(e, tt.method, tt.path, tt.body, tt.header...)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tt.status, rec.Body)
			}
			p := decodeProblem(t, rec)
			if p.Status != tt.status || p.Detail == "" {
				t.Errorf("problem = %+v", p)
			}
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") != "Bearer" {
				t.Errorf("401 without Bearer challenge")
			}
			if tt.field != "" && (len(p.Errors) != 1 || p.Errors[0].Field != tt.field) {
				t.Errorf("errors = %+v, want field %s", p.Errors, tt.field)
			}
		})
	}
}

func TestEngineSuccess(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := newEngine(tm)
	adminTok, _, _ := tm.Issue(1, access.RoleAdmin, "s1")
	if rec := do(e, "GET", "/logs", "", "Authorization", "Bearer "+adminTok); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"user":1`) {
		t.Errorf("admin /logs = %d %s", rec.Code, rec.Body)
	}
	if rec := do(e, "POST", "/echo", `{"text":"hi","count":2}`, "Content-Type", "application/json"); rec.Code != 200 {
		t.Errorf("echo = %d %s", rec.Code, rec.Body)
	}
	if rec := do(e, "GET", "/health/ready", ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"healthy"`) {
		t.Errorf("ready = %d %s", rec.Code, rec.Body)
	}
	rec := do(e, "GET", "/metrics", "")
	if !strings.Contains(rec.Body.String(), `http_requests_total{method="POST",route="/echo",status="200"} 1`) {
		t.Errorf("metrics lack the echo request:\n%s", rec.Body)
	}
}

func TestRunChecksReportsFailures(t *testing.T) {
	h := web.RunChecks(context.Background(), map[string]web.Check{
		"db":  func(context.Context) error { return nil },
		"bus": func(context.Context) error { return errors.New("no route to host") },
	})
	if h.Status != "unhealthy" || h.Components["bus"].Status != "down" || h.Components["db"].Status != "up" {
		t.Errorf("health = %+v", h)
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	tm := token.NewManager([]byte(strings.Repeat("k", 32)), time.Minute)
	e := web.NewEngine(quiet(), prometheus.NewRegistry())
	e.GET("/x", web.Authenticate(tm, func(c token.Claims) bool { return c.SessionID == "revoked" }), func(c *gin.Context) { c.Status(http.StatusOK) })
	for session, want := range map[string]int{"live": 200, "revoked": 401} {
		tok, _, _ := tm.Issue(1, access.RoleUser, session)
		if rec := do(e, "GET", "/x", "", "Authorization", "Bearer "+tok); rec.Code != want {
			t.Errorf("session %s = %d, want %d", session, rec.Code, want)
		}
	}
}
