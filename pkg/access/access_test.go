package access_test

import (
	"strings"
	"testing"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/fault"
)

func TestHas(t *testing.T) {
	tests := []struct {
		role access.Role
		perm access.Permission
		want bool
	}{
		{access.RoleUser, access.CreateRequest, true},
		{access.RoleUser, access.ViewRequests, false},
		{access.RoleUser, access.ViewLogs, false},
		{access.RoleStaff, access.UpdateRequestStatus, true},
		{access.RoleStaff, access.CreateRequest, false},
		{access.RoleStaff, access.ViewLogs, false},
		{access.RoleAdmin, access.ViewLogs, true},
		{access.RoleAdmin, access.CreateRequest, true},
		{access.Role("root"), access.ViewLogs, false},
	}
	for _, tt := range tests {
		t.Run(string(tt.role)+"/"+string(tt.perm), func(t *testing.T) {
			if got := access.Has(tt.role, tt.perm); got != tt.want {
				t.Errorf("Has = %v, want %v", got, tt.want)
			}
		})
	}
	if n := len(access.Permissions(access.RoleAdmin)); n != 19 {
		t.Errorf("admin holds %d permissions, want all 19", n)
	}
}

func TestCheck(t *testing.T) {
	if err := access.Check(access.RoleStaff, access.ViewLogs, access.ViewRequests); err != nil {
		t.Errorf("staff holding the second permission: %v", err)
	}
	err := access.Check(access.RoleUser, access.ViewLogs, access.ViewStatistics)
	if !fault.Is(err, fault.Forbidden) || err.Error() == "" ||
		!strings.Contains(err.Error(), "Not enough permissions: this action needs view-logs or view-statistics") {
		t.Errorf("user = %v, want Forbidden naming both permissions", err)
	}
}
