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

// logPage is the contract's list envelope, with the keyset cursor and the
// bound on counts. A page by number is counted: total is exact up to
// audit.CountLimit, and past it total is that bound and total_capped is
// true (so pages is a lower bound too). A page reached by cursor is not
// counted: its total and pages are null.
type logPage[T any] struct {
	Items       []T     `json:"items"`
	Total       *int64  `json:"total"`
	TotalCapped bool    `json:"total_capped"`
	Page        int     `json:"page"`
	Size        int     `json:"size"`
	Pages       *int64  `json:"pages"`
	NextCursor  *string `json:"next_cursor"`
}

// page answers a list query with one page of items.
func page[T any](c *gin.Context, res audit.Result, p audit.Page, item func(audit.Entry) T) {
	out := logPage[T]{Items: make([]T, len(res.Entries)), TotalCapped: res.Capped, Page: p.Number, Size: p.Size}
	for i, e := range res.Entries {
		out.Items[i] = item(e)
	}
	if res.Counted {
		total, pages := res.Total, (res.Total+int64(p.Size)-1)/int64(p.Size)
		out.Total, out.Pages = &total, &pages
	}
	if res.Next != nil {
		next := res.Next.String()
		out.NextCursor = &next
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
