package token_test

import (
	"strings"
	"testing"
	"time"

	"github.com/supportdesk/supportdesk/pkg/access"
	"github.com/supportdesk/supportdesk/pkg/token"
)

// BenchmarkVerify is the gateway's and every service's per-request cost of
// checking an access token.
func BenchmarkVerify(b *testing.B) {
	m := token.NewManager([]byte(strings.Repeat("k", 32)), time.Hour)
	raw, _, err := m.Issue(42, access.RoleUser, "session-1")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Verify(raw); err != nil {
			b.Fatal(err)
		}
	}
}
