// Package api is the audit service's HTTP transport: the /admin/logs/*
// queries, for callers holding the view-logs permission (the statistics
// also admit view-statistics). Every route reads: the log is append-only
// from the API's point of view.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/problem"
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
// (API_CONTRACT.md, "Conventions").
func Routes(r gin.IRouter, svc Service, tm *token.Manager, logger *slog.Logger) {
	h := &handler{svc: svc, logger: logger}
	logs := r.Group("/admin/logs", web.Authenticate(tm))
	get := func(path string, guard gin.HandlerFunc, serve gin.HandlerFunc) {
		logs.GET(path, guard, serve)
		logs.GET(path+"/", guard, serve)
	}
	viewLogs := web.Require(access.ViewLogs)
	get("/api-logs", viewLogs, h.apiLogs)
	get("/request-actions", viewLogs, h.requestActions)
	get("/events", viewLogs, h.events)
	get("/stats", requireAny(access.ViewLogs, access.ViewStatistics), h.stats)
}

// requireAny is web.Require for a route that admits any one of several
// permissions. It runs after web.Authenticate.
func requireAny(perms ...access.Permission) gin.HandlerFunc {
	names := make([]string, len(perms))
	for i, p := range perms {
		names[i] = string(p)
	}
	detail := "Not enough permissions: this action needs " + strings.Join(names, " or ")
	return func(c *gin.Context) {
		role := web.Claims(c).Role
		for _, p := range perms {
			if access.Has(role, p) {
				c.Next()
				return
			}
		}
		problem.Write(c.Writer, c.Request, problem.New(http.StatusForbidden, "forbidden", detail))
		c.Abort()
	}
}

// page answers a list query with one page of items.
func page[T any](c *gin.Context, res audit.Result, p audit.Page, item func(audit.Entry) T) {
	items := make([]T, len(res.Entries))
	for i, e := range res.Entries {
		items[i] = item(e)
	}
	c.JSON(http.StatusOK, web.NewPage(items, res.Total, web.Page{Number: p.Number, Size: p.Size}))
}
