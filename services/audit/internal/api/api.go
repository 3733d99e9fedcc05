// Package api is the audit service's HTTP transport: the /admin/logs/*
// queries, for callers holding the view-logs permission.
package api

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
	"github.com/supportdesk/supportdesk/pkg/web"
	"github.com/supportdesk/supportdesk/services/audit/internal/audit"
)

// Service is what the handlers need of the domain.
type Service interface {
	RequestActions(ctx context.Context, f audit.Filter, p audit.Page) (audit.Result, error)
}

// handler serves the log queries.
type handler struct {
	svc    Service
	logger *slog.Logger
}

// Routes registers the log queries on r, each behind token authentication
// and the view-logs permission. A path with a trailing slash is the same
// route (API_CONTRACT.md, "Conventions").
func Routes(r gin.IRouter, svc Service, tm *token.Manager, logger *slog.Logger) {
	h := &handler{svc: svc, logger: logger}
	logs := r.Group("/admin/logs", web.Authenticate(tm), web.Require(access.ViewLogs))
	for _, path := range []string{"/request-actions", "/request-actions/"} {
		logs.GET(path, h.requestActions)
	}
}

// requestActions serves GET /admin/logs/request-actions.
func (h *handler) requestActions(c *gin.Context) {
	f, p, err := parseRequestActions(c)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	res, err := h.svc.RequestActions(c.Request.Context(), f, p)
	if err != nil {
		web.Error(c, h.logger, err)
		return
	}
	items := make([]requestAction, len(res.Entries))
	for i, e := range res.Entries {
		items[i] = toRequestAction(e)
	}
	c.JSON(http.StatusOK, web.NewPage(items, res.Total, web.Page{Number: p.Number, Size: p.Size}))
}
