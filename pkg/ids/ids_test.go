package ids_test

import (
	"testing"

	"github.com/supportdesk/supportdesk/pkg/ids"
)

func TestDisplay(t *testing.T) {
	for _, c := range []struct {
		prefix string
		id     int64
		want   string
	}{
		{ids.User, 1, "USR000001"},
		{ids.Request, 17, "REQ000017"},
		{ids.Request, 1234567, "REQ1234567"},
	} {
		if got := ids.Display(c.prefix, c.id); got != c.want {
			t.Errorf("Display(%q, %d) = %q, want %q", c.prefix, c.id, got, c.want)
		}
	}
}
