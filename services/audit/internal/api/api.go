// Package api is the audit service's HTTP transport: the /admin/logs/*
// queries, for callers holding the view-logs permission (the statistics
// also admit view-statistics). Every route reads: the log is append-only
// from the API's point of view.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// Service is what the handlers need of the domain.
type Service interface {
	RequestActions(ctx context.Context, f audit.Filter, p audit.Page) (audit.Result, error)
	APILogs(ctx context.Context, f audit.CallFilter, p audit.Page) (audit.Result, error)
	Events(ctx context.Context, f audit.EventFilter, p audit.Page) (audit.Result, error)
	Stats(ctx context.Context, hoursAgo int) (audit.Stats, error)
}

// handler serves the log queries.
type handler struct {
	svc    Service
	logger *slog.Logger
}

// Routes registers the log queries on r, each behind token authentication
// and its permission. A path with a trailing slash is the same route
// (docs/API.md, "Conventions").
func Routes(r gin.IRouter, svc Service, tm *token.Manager, limits Limits, logger *slog.Logger) {
	h := &handler{svc: svc, logger: logger}
	logs := r.Group("/admin/logs", web.Authenticate(tm), bound(limits, logger))
	get := func(path string, guard gin.HandlerFunc, serve gin.HandlerFunc) {
		logs.GET(path, guard, serve)
		logs.GET(path+"/", guard, serve)
	}
	viewLogs := web.Require(access.ViewLogs)
	get("/api-logs", viewLogs, h.apiLogs)
	get("/request-actions", viewLogs, h.requestActions)
	get("/events", viewLogs, h.events)
	get("/stats", web.Require(access.ViewLogs, access.ViewStatistics), h.stats)
}

// list answers a log query with filter f: 422 naming every parameter that
// did not parse or that validate finds out of bounds, else the page run
// returns, each entry made an item.
func list[F, T any](c *gin.Context, logger *slog.Logger, q *query, f F, validate func(F, audit.Page) []fault.FieldError,
	run func(context.Context, F, audit.Page) (audit.Result, error), item func(audit.Entry) T) {
	if err := q.failed(func() []fault.FieldError { return validate(f, q.page) }); err != nil {
		web.Error(c, logger, err)
		return
	}
	res, err := run(c.Request.Context(), f, q.page)
	if err != nil {
		web.Error(c, logger, err)
		return
	}
	page(c, res, q.page, item)
}

// page answers a list query with one page of items (web.CursorPage).
func page[T any](c *gin.Context, res audit.Result, p audit.Page, item func(audit.Entry) T) {
	items := make([]T, len(res.Entries))
	for i, e := range res.Entries {
		items[i] = item(e)
	}
	next := ""
	if res.Next != nil {
		next = res.Next.String()
	}
	out := web.NewCursorPage(items, web.Page{Number: p.Number, Size: p.Size}, next)
	if res.Counted {
		out.Count(res.Total, res.Capped)
	}
	c.JSON(http.StatusOK, out)
}

// Limits bound the log queries: each runs within Timeout (its deadline
// reaches the database, which stops the query when it passes or when the
// client goes away), and at most Concurrent run at once; the others wait
// for a turn within their deadline, then get 503.
type Limits struct {
	Concurrent int
	Timeout    time.Duration
}

// bound applies l to every request that passes through it.
func bound(l Limits, logger *slog.Logger) gin.HandlerFunc {
	turns := make(chan struct{}, max(1, l.Concurrent))
	busy := &fault.Error{Kind: fault.Unavailable, Code: "log_queries_busy", RetryAfter: time.Second,
		Detail: "Too many log queries are running; try again in a moment"}
	return func(c *gin.Context) {
		ctx, cancel := context.WithTimeout(c.Request.Context(), l.Timeout)
		defer cancel()
		select {
		case turns <- struct{}{}:
			defer func() { <-turns }()
		case <-ctx.Done():
			web.Error(c, logger, busy)
			c.Abort()
			return
		}
		c.Request = c.Request.WithContext(ctx)
		c.Next()
	}
}
