package web_test

import (
	"testing"

	"github.com/supportdesk/supportdesk/pkg/fault"
	"github.com/supportdesk/supportdesk/pkg/web"
)

func TestParseID(t *testing.T) {
	for raw, want := range map[string]int64{"17": 17, "REQ000017": 17, "req000017": 17, "REQ1234567": 1234567} {
		if got, err := web.ParseID(raw, "REQ"); err != nil || got != want {
			t.Errorf("ParseID(%q) = %d, %v; want %d", raw, got, err, want)
		}
	}
	for _, raw := range []string{"", "0", "-1", "+1", "REQ+1", "REQ-1", " 1", "USR000001", "REQ", "abc", "99999999999999999999"} {
		if _, err := web.ParseID(raw, "REQ"); !fault.Is(err, fault.Validation) {
			t.Errorf("ParseID(%q) = %v, want a validation error", raw, err)
		}
	}
}
