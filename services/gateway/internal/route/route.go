// Package route is the gateway's table of public API routes: which service
// answers each one and what a caller needs to reach it. A route that is not
// in the table does not exist at the edge.
package route

import "github.com/supportdesk/supportdesk/pkg/access"

// Upstream names a backend service.
type Upstream string

// The backend services.
const (
	Auth     Upstream = "auth"
	Tickets  Upstream = "tickets"
	Audit    Upstream = "audit"
	Webhooks Upstream = "webhooks"
)

// Route is one method and path template (Gin syntax) of the public API.
type Route struct {
	Method   string
	Path     string
	Upstream Upstream
	// Public routes need no token. Every other route needs a valid access
	// token, whose role must hold Permission when one is set.
	Public     bool
	Permission access.Permission
	// QueryToBody names a query parameter that carries a secret (the seed
	// accepted the refresh token so); the gateway moves it into the JSON
	// body before proxying.
	QueryToBody string
}

// Table is the public API as the gateway exposes it.
func Table() []Route {
	return []Route{
		{Method: "POST", Path: "/auth/register", Upstream: Auth, Public: true},
		{Method: "POST", Path: "/auth/login", Upstream: Auth, Public: true},
		{Method: "POST", Path: "/auth/refresh", Upstream: Auth, Public: true, QueryToBody: "refresh_token"},
		{Method: "POST", Path: "/auth/logout", Upstream: Auth},
		{Method: "POST", Path: "/auth/verify-token", Upstream: Auth},
		{Method: "GET", Path: "/auth/profile", Upstream: Auth, Permission: access.ManageProfile},
		{Method: "PUT", Path: "/auth/profile", Upstream: Auth, Permission: access.ManageProfile},
		{Method: "POST", Path: "/auth/change-password", Upstream: Auth, Permission: access.ManageProfile},

		{Method: "POST", Path: "/staff/register", Upstream: Auth, Permission: access.ManageStaff},
		{Method: "POST", Path: "/admin/register", Upstream: Auth, Permission: access.ManageUsers},
		{Method: "GET", Path: "/admin/users", Upstream: Auth, Permission: access.ViewUsers},
		{Method: "GET", Path: "/admin/staff", Upstream: Auth, Permission: access.ViewStaff},
		{Method: "DELETE", Path: "/admin/users/:id", Upstream: Auth, Permission: access.DeleteUsers},
		{Method: "DELETE", Path: "/admin/staff/:id", Upstream: Auth, Permission: access.DeleteStaff},
		{Method: "PUT", Path: "/admin/users/:id/role", Upstream: Auth, Permission: access.ManageUsers},

		{Method: "POST", Path: "/user_request", Upstream: Tickets, Permission: access.CreateRequest},
		{Method: "POST", Path: "/user_request/", Upstream: Tickets, Permission: access.CreateRequest},
		{Method: "GET", Path: "/user_request/my", Upstream: Tickets, Permission: access.ViewOwnRequests},
		{Method: "GET", Path: "/user_request/:id", Upstream: Tickets, Permission: access.ViewOwnRequests},
		{Method: "PUT", Path: "/user_request/:id", Upstream: Tickets, Permission: access.UpdateOwnRequests},
		{Method: "DELETE", Path: "/user_request/:id", Upstream: Tickets, Permission: access.DeleteOwnRequests},
		{Method: "GET", Path: "/user_request/:id/comments", Upstream: Tickets, Permission: access.ViewOwnRequests},
		{Method: "POST", Path: "/user_request/:id/comments", Upstream: Tickets, Permission: access.ViewOwnRequests},
		{Method: "GET", Path: "/staff/requests", Upstream: Tickets, Permission: access.ViewRequests},
		{Method: "PUT", Path: "/staff/requests/:id/status", Upstream: Tickets, Permission: access.UpdateRequestStatus},
		{Method: "POST", Path: "/staff/requests/:id/assign", Upstream: Tickets, Permission: access.AssignRequests},
		{Method: "GET", Path: "/admin/requests", Upstream: Tickets, Permission: access.ViewRequests},
		{Method: "GET", Path: "/admin/requests/export", Upstream: Tickets, Permission: access.ExportData},
		{Method: "GET", Path: "/admin/statistics", Upstream: Tickets, Permission: access.ViewStatistics},
		// Workload needs view-staff as well; every role holding one holds both.
		{Method: "GET", Path: "/admin/staff/workload", Upstream: Tickets, Permission: access.ViewStatistics},

		{Method: "GET", Path: "/admin/logs/api-logs", Upstream: Audit, Permission: access.ViewLogs},
		{Method: "GET", Path: "/admin/logs/request-actions", Upstream: Audit, Permission: access.ViewLogs},
		{Method: "GET", Path: "/admin/logs/events", Upstream: Audit, Permission: access.ViewLogs},
		// Stats also admits view-statistics; every role holding one holds both.
		{Method: "GET", Path: "/admin/logs/stats", Upstream: Audit, Permission: access.ViewLogs},

		{Method: "POST", Path: "/admin/webhooks", Upstream: Webhooks, Permission: access.ManageWebhooks},
		{Method: "GET", Path: "/admin/webhooks", Upstream: Webhooks, Permission: access.ManageWebhooks},
		{Method: "GET", Path: "/admin/webhooks/:id", Upstream: Webhooks, Permission: access.ManageWebhooks},
		{Method: "PATCH", Path: "/admin/webhooks/:id", Upstream: Webhooks, Permission: access.ManageWebhooks},
		{Method: "DELETE", Path: "/admin/webhooks/:id", Upstream: Webhooks, Permission: access.ManageWebhooks},
		{Method: "POST", Path: "/admin/webhooks/:id/rotate-secret", Upstream: Webhooks, Permission: access.ManageWebhooks},
		{Method: "GET", Path: "/admin/webhooks/:id/deliveries", Upstream: Webhooks, Permission: access.ManageWebhooks},
	}
}
