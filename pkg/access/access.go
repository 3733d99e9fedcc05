// Package access is the fixed table of roles and the permissions each role
// holds. The gateway checks it per route and the services check it again.
package access

import (
	"strings"

	"github.com/supportdesk/supportdesk/pkg/fault"
)

// Role is a user's role as it appears on the wire.
type Role string

// The three roles.
const (
	RoleUser  Role = "user"
	RoleStaff Role = "staff"
	RoleAdmin Role = "admin"
)

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool {
	return r == RoleUser || r == RoleStaff || r == RoleAdmin
}

// Permission is one thing a role may do.
type Permission string

// The permissions of docs/API.md.
const (
	ViewOwnRequests     Permission = "view-own-requests"
	CreateRequest       Permission = "create-request"
	UpdateOwnRequests   Permission = "update-own-requests"
	DeleteOwnRequests   Permission = "delete-own-requests"
	ManageProfile       Permission = "manage-profile"
	ViewRequests        Permission = "view-requests"
	ManageRequests      Permission = "manage-requests"
	UpdateRequestStatus Permission = "update-request-status"
	ViewUsers           Permission = "view-users"
	ManageUsers         Permission = "manage-users"
	DeleteUsers         Permission = "delete-users"
	ViewStaff           Permission = "view-staff"
	ManageStaff         Permission = "manage-staff"
	DeleteStaff         Permission = "delete-staff"
	AssignRequests      Permission = "assign-requests"
	ViewStatistics      Permission = "view-statistics"
	ExportData          Permission = "export-data"
	ViewLogs            Permission = "view-logs"
	ManageWebhooks      Permission = "manage-webhooks"
)

var userPerms = []Permission{ViewOwnRequests, CreateRequest, UpdateOwnRequests, DeleteOwnRequests, ManageProfile}

var staffPerms = []Permission{ViewRequests, ManageRequests, UpdateRequestStatus, ViewOwnRequests, ManageProfile}

var adminPerms = []Permission{
	ViewOwnRequests, CreateRequest, UpdateOwnRequests, DeleteOwnRequests, ManageProfile,
	ViewRequests, ManageRequests, UpdateRequestStatus,
	ViewUsers, ManageUsers, DeleteUsers, ViewStaff, ManageStaff, DeleteStaff,
	AssignRequests, ViewStatistics, ExportData, ViewLogs, ManageWebhooks,
}

// Permissions returns the permissions of r, in a fixed order, or nil for an
// unknown role.
func Permissions(r Role) []Permission {
	switch r {
	case RoleUser:
		return append([]Permission(nil), userPerms...)
	case RoleStaff:
		return append([]Permission(nil), staffPerms...)
	case RoleAdmin:
		return append([]Permission(nil), adminPerms...)
	}
	return nil
}

// Has reports whether r holds p.
func Has(r Role, p Permission) bool {
	for _, q := range Permissions(r) {
		if q == p {
			return true
		}
	}
	return false
}

// Check returns nil when r holds one of perms, and otherwise the Forbidden
// fault every service and the gateway answer with (403).
func Check(r Role, perms ...Permission) error {
	names := make([]string, len(perms))
	for i, p := range perms {
		if Has(r, p) {
			return nil
		}
		names[i] = string(p)
	}
	return fault.New(fault.Forbidden, "forbidden", "Not enough permissions: this action needs "+strings.Join(names, " or "))
}
